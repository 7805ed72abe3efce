import Foundation
import Tensors

/// A model that `ModelStore` can save and load: a JSON-codable configuration that rebuilds the
/// architecture, plus a `Module` whose state dict is the weights. GraphNet's `StagingModel` is one; the
/// VLM can be another (same three files, another `kind`).
public protocol StorableModel: AnyObject {
    /// Everything but the weights (architecture, normalisation, class names, ...), written as config.json.
    associatedtype StoredConfig: Codable
    /// Kind tag written to config.json and checked on load ("graphnet", "vlm").
    static var kind: String { get }
    /// The configuration to store.
    var storedConfig: StoredConfig { get }
    /// The module holding the weights.
    var weights: Module { get }
    /// Rebuilds the model (random weights) from a stored configuration.
    /// - Throws: any error describing why the configuration is unusable.
    init(storedConfig: StoredConfig) throws
}

/// What the store knows about one saved version.
public struct StoredModelInfo: Codable, Sendable, Equatable {
    /// Model name (a folder of the store).
    public var name: String
    /// Version number (increasing integers, 1 first).
    public var version: Int
    /// Folder holding config.json, weights.safetensors, metrics.json.
    public var path: String
    /// Creation time, ISO 8601 UTC.
    public var createdAt: String
    /// Kind tag.
    public var kind: String
}

/// The on-disk config.json: a small envelope (format, kind, name, version, time) around the model's config.
struct StoredEnvelope<C: Codable>: Codable {
    var format: String
    var kind: String
    var name: String
    var version: Int
    var createdAt: String
    var config: C
    enum CodingKeys: String, CodingKey { case format, kind, name, version, createdAt = "created_at", config }
}

/// Only the envelope's header, to check the kind before decoding a config of the wrong type.
struct EnvelopeHeader: Codable {
    var format: String
    var kind: String
    var name: String
    var version: Int
    var createdAt: String
    enum CodingKeys: String, CodingKey { case format, kind, name, version, createdAt = "created_at" }
}

/// A folder of versioned models: `<root>/<name>/<version>/{config.json, weights.safetensors, metrics.json}`.
///
/// A version is written into a hidden temporary folder next to its final place and renamed into place, so
/// a reader (the daemon) never sees half a model; versions are increasing integers, and `latest` is the
/// highest. Loading checks the kind, then every weight name and shape, and fails with a typed error
/// (`GraphNetError`) naming the file. Used for GraphNet now and meant for the VLM too.
public struct ModelStore: Sendable {
    /// The store folder.
    public let root: String
    /// File format tag of config.json.
    public static let format = "capillary-model/1"

    /// A store rooted at `root` (created on the first save).
    public init(root: String) { self.root = root }

    /// Folder of a model name.
    public func folder(name: String) -> String { (root as NSString).appendingPathComponent(name) }
    /// Folder of one version.
    public func folder(name: String, version: Int) -> String { (folder(name: name) as NSString).appendingPathComponent(String(version)) }

    /// Model names in the store (sorted); empty if the store does not exist.
    public func names() -> [String] {
        let items = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return items.filter { !$0.hasPrefix(".") && !versions(name: $0).isEmpty }.sorted()
    }

    /// Saved versions of `name`, ascending (complete folders only; temporary folders are hidden).
    public func versions(name: String) -> [Int] {
        let items = (try? FileManager.default.contentsOfDirectory(atPath: folder(name: name))) ?? []
        return items.compactMap { Int($0) }.filter { $0 > 0 }.sorted()
    }

    /// The highest version of `name`, nil if there is none.
    public func latest(name: String) -> Int? { versions(name: name).last }

    /// Saves `model` as the next version of `name` with `metrics` as metrics.json.
    /// - Throws: `GraphNetError.io` naming the folder, or `.invalidOption` for a bad name.
    @discardableResult
    public func save<M: StorableModel, Stats: Encodable>(_ model: M, name: String, metrics: Stats) throws -> StoredModelInfo {
        guard !name.isEmpty, !name.contains("/"), !name.hasPrefix("."), Int(name) == nil else {
            throw GraphNetError.invalidOption(name: "name", reason: "model name must be a plain folder name, got \"\(name)\"")
        }
        let fm = FileManager.default
        let dir = folder(name: name)
        do { try fm.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        catch { throw GraphNetError.io(path: dir, reason: "cannot create the model folder: \(error.localizedDescription)") }
        let created = Self.timestamp()
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // Two savers may race for the same number: the rename of the loser fails, and it takes the next one.
        for _ in 0..<100 {
            let version = (latest(name: name) ?? 0) + 1
            let tmp = (dir as NSString).appendingPathComponent(".tmp-\(version)-\(getpid())-\(UInt64.random(in: 0...UInt64.max))")
            do {
                try fm.createDirectory(atPath: tmp, withIntermediateDirectories: false)
                let env = StoredEnvelope(format: Self.format, kind: M.kind, name: name, version: version, createdAt: created, config: model.storedConfig)
                // Each file is fsynced (DurableFile), then the folder, so the rename below publishes only
                // complete bytes: a crash or a full disk leaves the previous versions as they were.
                try DurableFile.write(enc.encode(env), to: (tmp as NSString).appendingPathComponent("config.json"))
                try SafeTensors.write(model.weights.stateDict(), metadata: ["kind": M.kind, "name": name, "version": String(version)],
                                      to: (tmp as NSString).appendingPathComponent("weights.safetensors"))
                try DurableFile.write(enc.encode(metrics), to: (tmp as NSString).appendingPathComponent("metrics.json"))
                try DurableFile.syncDirectory(tmp)
            } catch {
                try? fm.removeItem(atPath: tmp)
                throw GraphNetError.io(path: tmp, reason: "cannot write the model: \(error)")
            }
            let final = folder(name: name, version: version)
            if rename(tmp, final) == 0 {
                // The version is visible now; make the new name durable too (best effort: it is already served).
                try? DurableFile.syncDirectory(dir)
                return StoredModelInfo(name: name, version: version, path: final, createdAt: created, kind: M.kind)
            }
            try? fm.removeItem(atPath: tmp)
        }
        throw GraphNetError.io(path: dir, reason: "could not claim a new version number")
    }

    /// Loads version `version` (nil = latest) of `name` as an `M`.
    /// - Throws: `GraphNetError.modelNotFound` (no such model/version/file), `.badConfig` (config.json
    ///   unreadable), `.wrongModelKind`, `.badWeights` (missing/extra tensor, shape mismatch, corrupt file).
    public func load<M: StorableModel>(_ type: M.Type, name: String, version: Int? = nil) throws -> (model: M, info: StoredModelInfo) {
        guard let v = version ?? latest(name: name) else { throw GraphNetError.modelNotFound(path: folder(name: name)) }
        let dir = folder(name: name, version: v)
        let configPath = (dir as NSString).appendingPathComponent("config.json")
        guard let data = FileManager.default.contents(atPath: configPath) else { throw GraphNetError.modelNotFound(path: configPath) }
        let dec = JSONDecoder()
        let header: EnvelopeHeader
        do { header = try dec.decode(EnvelopeHeader.self, from: data) }
        catch { throw GraphNetError.badConfig(path: configPath, reason: "\(error)") }
        guard header.kind == M.kind else { throw GraphNetError.wrongModelKind(path: configPath, expected: M.kind, found: header.kind) }
        let env: StoredEnvelope<M.StoredConfig>
        do { env = try dec.decode(StoredEnvelope<M.StoredConfig>.self, from: data) }
        catch { throw GraphNetError.badConfig(path: configPath, reason: "\(error)") }
        let model: M
        do { model = try M(storedConfig: env.config) }
        catch { throw GraphNetError.badConfig(path: configPath, reason: "\(error)") }
        let weightsPath = (dir as NSString).appendingPathComponent("weights.safetensors")
        guard FileManager.default.fileExists(atPath: weightsPath) else { throw GraphNetError.modelNotFound(path: weightsPath) }
        do { try model.weights.load(from: weightsPath) }
        catch { throw GraphNetError.badWeights(path: weightsPath, reason: "\(error)") }
        return (model, StoredModelInfo(name: name, version: v, path: dir, createdAt: header.createdAt, kind: header.kind))
    }

    /// The raw metrics.json of a version (nil = latest).
    /// - Throws: `GraphNetError.modelNotFound`.
    public func metricsData(name: String, version: Int? = nil) throws -> Data {
        guard let v = version ?? latest(name: name) else { throw GraphNetError.modelNotFound(path: folder(name: name)) }
        let p = (folder(name: name, version: v) as NSString).appendingPathComponent("metrics.json")
        guard let d = FileManager.default.contents(atPath: p) else { throw GraphNetError.modelNotFound(path: p) }
        return d
    }

    /// Now as ISO 8601 UTC with seconds.
    static func timestamp() -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: Date())
    }
}
