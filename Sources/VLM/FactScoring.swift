import Foundation

/// Reads structured facts back from text, for fact-level scoring of generated explanations. Pluggable:
/// the Knowledge module's fact parser can conform to this once it exists; `CaptionFactParser` reads the
/// ground-truth caption templates of this module.
public protocol FactScorer: Sendable {
    /// Short name for reports.
    var name: String { get }
    /// Canonical facts stated in `text` (e.g. "faz=enlarged", "microaneurysm=present", "microaneurysm@nasal").
    func facts(in text: String) -> Set<String>
    /// Whether a fact states an abnormality or a location (these count towards the hallucination rate).
    func isFinding(_ fact: String) -> Bool
}

/// Facts of the `GroundTruthCaptions` templates: stage, FAZ call, perfusion call, and per lesion type its
/// presence and main sector.
public struct CaptionFactParser: FactScorer {
    public init() {}
    public var name: String { "ground-truth-caption-templates" }

    public func facts(in text: String) -> Set<String> {
        var out = Set<String>()
        if let s = StageLine.parse(text) { out.insert("stage=\(s.rawValue)") }
        let lower = text.lowercased()
        if lower.contains("faz is enlarged") { out.insert("faz=enlarged") }
        if lower.contains("faz is small") { out.insert("faz=small") }
        if lower.contains("faz is within the healthy range") { out.insert("faz=normal") }
        if lower.contains("perfusion density is reduced") { out.insert("perfusion=reduced") }
        if lower.contains("perfusion density is within the healthy range") { out.insert("perfusion=normal") }
        for (key, absent, present) in [("nonperfusion", "no non-perfusion", "non-perfusion:"),
                                       ("microaneurysm", "no microaneurysms", "microaneurysms:"),
                                       ("neovascularization", "no neovascularization", "neovascularization:")] {
            if lower.contains(absent) { out.insert("\(key)=absent") }
            var search = lower[...]
            while let r = search.range(of: present) {
                // "no non-perfusion" must not count as "non-perfusion:"; the colon form is only the present one.
                out.insert("\(key)=present")
                let rest = search[r.upperBound...]
                if let m = rest.range(of: "mostly ") {
                    let word = rest[m.upperBound...].prefix { $0.isLetter }
                    if ImageSector(rawValue: String(word)) != nil { out.insert("\(key)@\(word)") }
                }
                search = rest
            }
        }
        return out
    }

    public func isFinding(_ fact: String) -> Bool {
        fact.contains("@") || fact.hasSuffix("=present") || fact.hasSuffix("=enlarged") || fact.hasSuffix("=small")
            || fact.hasSuffix("=reduced")
    }
}

/// Fact-level agreement of generated text with a reference.
public struct FactScore: Sendable, Codable, Equatable {
    /// Generated facts that are in the reference / generated facts (1 when nothing is generated).
    public var precision: Double
    /// Reference facts that were generated / reference facts (1 when the reference has none).
    public var recall: Double
    public var f1: Double
    /// Generated findings (abnormalities, locations) absent from the reference / generated findings.
    public var hallucinationRate: Double
    /// Generated location facts that match the reference's / generated location facts (nil when none).
    public var localizationAccuracy: Double?

    enum CodingKeys: String, CodingKey {
        case precision, recall, f1
        case hallucinationRate = "hallucination_rate", localizationAccuracy = "localization_accuracy"
    }

    /// Micro-averaged scores over pairs of (generated, reference) fact sets.
    public init(pairs: [(generated: Set<String>, reference: Set<String>)], isFinding: (String) -> Bool) {
        var tp = 0, gen = 0, ref = 0, findings = 0, hallucinated = 0, loc = 0, locHit = 0
        for (g, r) in pairs {
            tp += g.intersection(r).count; gen += g.count; ref += r.count
            for f in g where isFinding(f) {
                findings += 1
                if !r.contains(f) { hallucinated += 1 }
                if f.contains("@") { loc += 1; if r.contains(f) { locHit += 1 } }
            }
        }
        precision = gen == 0 ? 1 : Double(tp) / Double(gen)
        recall = ref == 0 ? 1 : Double(tp) / Double(ref)
        f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall)
        hallucinationRate = findings == 0 ? 0 : Double(hallucinated) / Double(findings)
        localizationAccuracy = loc == 0 ? nil : Double(locHit) / Double(loc)
    }
}
