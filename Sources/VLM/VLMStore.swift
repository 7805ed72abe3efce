import Foundation
import Tensors

/// A trained model with its tokenizer, as the model store holds it.
public struct LoadedVLM: @unchecked Sendable {
    /// The weights.
    public let model: VLMModel
    /// The tokenizer it was trained with.
    public let tokenizer: Tokenizer
    /// Folder it was loaded from (`<store>/<name>/<version>`).
    public let directory: String
    /// Thread-safe generator over this model.
    public let generator: VLMGenerator
}

/// The model store layout `<store>/<name>/<version>/{config.json, weights.safetensors, metrics.json,
/// tokenizer.json}` with versions `v1`, `v2`, ... A version is written into a hidden temporary folder and
/// renamed into place, so a crash never leaves a half-written model.
public enum VLMStore {
    /// Default model name in a store.
    public static let defaultName = "vlm"

    /// Version folder names of `name`, oldest first (`v1`, `v2`, ... by number).
    public static func versions(store: String, name: String) -> [String] {
        let dir = (store as NSString).appendingPathComponent(name)
        let items = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return items.compactMap { v -> (Int, String)? in
            guard v.hasPrefix("v"), let n = Int(v.dropFirst()),
                  FileManager.default.fileExists(atPath: (dir as NSString).appendingPathComponent("\(v)/weights.safetensors"))
            else { return nil }
            return (n, v)
        }.sorted { $0.0 < $1.0 }.map(\.1)
    }

    /// Writes a new version of `name` and returns its folder.
    /// - Throws: `VLMError.io` naming the folder (a full disk says "no space left on the device").
    @discardableResult
    public static func save(model: VLMModel, tokenizer: Tokenizer, metrics: [String: Any], store: String,
                            name: String = defaultName) throws -> String {
        let fm = FileManager.default
        let parent = (store as NSString).appendingPathComponent(name)
        do { try fm.createDirectory(atPath: parent, withIntermediateDirectories: true) }
        catch { throw VLMError.io(path: parent, reason: "cannot create model folder: \(error.localizedDescription)") }
        let next = (versions(store: store, name: name).last.flatMap { Int($0.dropFirst()) } ?? 0) + 1
        let tmp = (parent as NSString).appendingPathComponent(".tmp-v\(next)-\(ProcessInfo.processInfo.processIdentifier)")
        try? fm.removeItem(atPath: tmp)
        do { try fm.createDirectory(atPath: tmp, withIntermediateDirectories: true) }
        catch { throw VLMError.io(path: tmp, reason: "cannot create: \(error.localizedDescription)") }
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        // Every file is fsynced (DurableFile), then the folder, then it is renamed into place: a crash or a
        // full disk leaves the earlier versions as they were, and a failed save removes its temporary folder.
        do {
            try DurableFile.write(enc.encode(model.config), to: tmp + "/config.json")
            try DurableFile.write(JSONSerialization.data(withJSONObject: metrics, options: [.prettyPrinted, .sortedKeys]),
                                  to: tmp + "/metrics.json")
            try DurableFile.write(tokenizer.jsonData(), to: tmp + "/tokenizer.json")
            try SafeTensors.write(model.namedParameters(), metadata: ["format": "pt", "capillary": "vlm"],
                                  to: tmp + "/weights.safetensors")
            try DurableFile.syncDirectory(tmp)
        } catch {
            try? fm.removeItem(atPath: tmp)
            throw VLMError.io(path: tmp, reason: "cannot write the model: \(error)")
        }
        let final = (parent as NSString).appendingPathComponent("v\(next)")
        guard rename(tmp, final) == 0 else {
            let e = errno
            try? fm.removeItem(atPath: tmp)
            throw VLMError.io(path: final, reason: "cannot rename \(tmp) into place (\(String(cString: strerror(e))))")
        }
        try? DurableFile.syncDirectory(parent)
        return final
    }

    /// Loads `<store>/<name>/<version>` (the newest version when nil).
    /// - Throws: `VLMError.modelNotFound`, `.io` / `.badTokenizer` / `.invalidConfig` naming the file, or
    ///   `SafeTensorsError` when the weights do not match the config.
    public static func load(store: String, name: String = defaultName, version: String? = nil) throws -> LoadedVLM {
        guard let v = version ?? versions(store: store, name: name).last else {
            throw VLMError.modelNotFound(store: store, name: name)
        }
        return try load(directory: (store as NSString).appendingPathComponent("\(name)/\(v)"))
    }

    /// Loads a model folder holding config.json, tokenizer.json and weights.safetensors.
    /// - Throws: as `load(store:name:version:)`.
    public static func load(directory dir: String) throws -> LoadedVLM {
        let cfgPath = dir + "/config.json"
        guard let data = FileManager.default.contents(atPath: cfgPath) else {
            throw VLMError.io(path: cfgPath, reason: "no config.json (is this a VLM model folder?)")
        }
        let config: VLMConfig
        do { config = try JSONDecoder().decode(VLMConfig.self, from: data) }
        catch { throw VLMError.io(path: cfgPath, reason: "not a VLM config: \(error)") }
        let tokenizer = try Tokenizer.load(path: dir + "/tokenizer.json")
        let model = try VLMModel(config: config, seed: 0)
        _ = try model.load(from: dir + "/weights.safetensors")
        return LoadedVLM(model: model, tokenizer: tokenizer, directory: dir,
                         generator: try VLMGenerator(model: model, tokenizer: tokenizer))
    }
}
