import Foundation
import RPC

/// One model version on disk: `<store>/<name>/<version>/{config.json,weights.safetensors,metrics.json}`.
public struct StoredModel: Sendable, Equatable {
    /// Model name (the first folder level), e.g. "gnn".
    public var name: String
    /// Version folder name, e.g. "1" or "20261129-0130".
    public var version: String
    /// Model kind: `config.json`'s "kind" member (GraphNet: "graphnet"), else "vlm" when the folder has a
    /// `tokenizer.json` (VLMStore's layout), else the name.
    public var kind: String
    /// Absolute folder of this version.
    public var directory: String
    /// `config.json`, parsed.
    public var config: JSONValue
    /// `metrics.json`, parsed (nil when absent or unreadable).
    public var metrics: JSONValue?
    /// Size of `weights.safetensors`, bytes.
    public var weightsBytes: Int

    /// Path of a file in this version's folder.
    public func file(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }
}

/// Reads the model store layout. Folders starting with "." (temporary folders of a version being written)
/// and versions without both `config.json` and `weights.safetensors` are skipped: a store is only ever seen
/// with complete versions, because writers rename finished folders into place.
public enum ModelStoreIndex {
    /// Every complete version in `root`, sorted by name then version (natural order: "2" < "10").
    /// A missing `root` gives an empty list.
    public static func scan(_ root: String) -> [StoredModel] {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: root) else { return [] }
        var out: [StoredModel] = []
        for name in names.sorted() where !name.hasPrefix(".") {
            let nameDir = (root as NSString).appendingPathComponent(name)
            guard let versions = try? fm.contentsOfDirectory(atPath: nameDir) else { continue }
            for v in versions where !v.hasPrefix(".") {
                if let m = read(name: name, version: v, directory: (nameDir as NSString).appendingPathComponent(v)) {
                    out.append(m)
                }
            }
        }
        return out.sorted { $0.name != $1.name ? $0.name < $1.name : versionLess($0.version, $1.version) }
    }

    /// The newest version of `name` (natural order), or nil.
    public static func latest(_ name: String, in models: [StoredModel]) -> StoredModel? {
        models.filter { $0.name == name }.max { versionLess($0.version, $1.version) }
    }

    static func read(name: String, version: String, directory: String) -> StoredModel? {
        let fm = FileManager.default
        let configPath = (directory as NSString).appendingPathComponent("config.json")
        let weightsPath = (directory as NSString).appendingPathComponent("weights.safetensors")
        guard let configData = fm.contents(atPath: configPath), fm.fileExists(atPath: weightsPath) else { return nil }
        let config = (try? JSONCodec.decode([UInt8](configData))) ?? .null
        let metricsPath = (directory as NSString).appendingPathComponent("metrics.json")
        let metrics = fm.contents(atPath: metricsPath).flatMap { try? JSONCodec.decode([UInt8]($0)) }
        let size = ((try? fm.attributesOfItem(atPath: weightsPath))?[.size] as? NSNumber)?.intValue ?? 0
        // GraphNet writes its kind into config.json; VLM folders are recognised by their tokenizer.json.
        let isVLM = fm.fileExists(atPath: (directory as NSString).appendingPathComponent("tokenizer.json"))
        return StoredModel(name: name, version: version, kind: config["kind"]?.stringValue ?? (isVLM ? "vlm" : name),
                           directory: directory, config: config, metrics: metrics, weightsBytes: size)
    }

    /// Natural order of version names: digit runs compare as numbers ("v2" < "v10"), the rest as text.
    public static func versionLess(_ a: String, _ b: String) -> Bool {
        func parts(_ s: String) -> [(Bool, String)] {
            var r: [(Bool, String)] = []
            for c in s {
                let d = c.isASCII && c.isNumber
                if let last = r.last, last.0 == d { r[r.count - 1].1.append(c) } else { r.append((d, String(c))) }
            }
            return r
        }
        let pa = parts(a), pb = parts(b)
        for (x, y) in zip(pa, pb) where x.1 != y.1 {
            if x.0 && y.0 {
                let nx = x.1.drop { $0 == "0" }, ny = y.1.drop { $0 == "0" }
                return nx.count != ny.count ? nx.count < ny.count : nx < ny
            }
            return x.1 < y.1
        }
        return pa.count < pb.count
    }
}
