import Foundation

/// A decoded JSON object with lenient typed accessors: a missing key or a value of another type gives nil,
/// so hand-written or older input files degrade to "not provided" instead of failing the whole report.
struct JSONFields {
    let values: [String: Any]

    init(_ values: [String: Any]) { self.values = values }

    /// The object in `data`; nil when it is not a JSON object.
    init?(data: Data) {
        guard let o = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) as? [String: Any] else { return nil }
        values = o
    }

    func string(_ k: String) -> String? { values[k] as? String }
    func double(_ k: String) -> Double? { (values[k] as? NSNumber)?.doubleValue }
    func int(_ k: String) -> Int? { double(k).flatMap { $0.isFinite ? Int(exactly: $0.rounded()) : nil } }
    func object(_ k: String) -> JSONFields? { (values[k] as? [String: Any]).map(JSONFields.init) }
    func objects(_ k: String) -> [JSONFields]? { (values[k] as? [Any])?.compactMap { ($0 as? [String: Any]).map(JSONFields.init) } }
    func strings(_ k: String) -> [String]? { values[k] as? [String] }
    func matrix(_ k: String) -> [[Int]]? {
        guard let rows = values[k] as? [Any] else { return nil }
        let m = rows.compactMap { ($0 as? [Any])?.compactMap { ($0 as? NSNumber)?.intValue } }
        return m.count == rows.count ? m : nil
    }
    /// Numeric entries of the object at `k` (non-numbers skipped).
    func numberMap(_ k: String) -> [String: Double]? {
        guard let o = values[k] as? [String: Any] else { return nil }
        var out: [String: Double] = [:]
        for (key, v) in o { if let n = v as? NSNumber { out[key] = n.doubleValue } }
        return out
    }
    func isNull(_ k: String) -> Bool { values[k] is NSNull }
    func has(_ k: String) -> Bool { values[k] != nil }
}

/// Every JSON object line of a JSON-lines text (blank and non-object lines skipped), plus how many
/// non-blank lines were not objects.
func jsonLines(_ text: String) -> (objects: [JSONFields], rejected: Int) {
    var out: [JSONFields] = [], rejected = 0
    for line in text.split(whereSeparator: \.isNewline) {
        let t = line.trimmingCharacters(in: .whitespaces)
        guard !t.isEmpty else { continue }
        if let o = JSONFields(data: Data(t.utf8)) { out.append(o) } else { rejected += 1 }
    }
    return (out, rejected)
}
