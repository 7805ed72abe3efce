import Common
import Foundation
import Retina
import VesselGraph

/// Which labels a model predicts.
public enum LabelScheme: String, Codable, Sendable, CaseIterable {
    /// Healthy / NPDR / PDR (the manifest's `label`).
    case stage
    /// The 5-level grade 0-4 (the manifest's `grade`; synthetic cohorts).
    case grade

    /// Class names, index = class.
    public var classNames: [String] {
        switch self {
        case .stage: return DRStage.allCases.map(\.rawValue)
        case .grade: return (0..<5).map { "grade\($0)" }
        }
    }

    /// The class of a manifest entry, nil when it has no such label.
    public func label(of entry: CohortEntry) -> Int? {
        switch self {
        case .stage: return entry.label?.index
        case .grade: return entry.grade.flatMap { (0..<5).contains($0) ? $0 : nil }
        }
    }
}

/// One cohort image with its graph and label.
public struct LabeledGraph: Sendable {
    /// Manifest id.
    public var id: String
    /// Absolute image path.
    public var imagePath: String
    /// The graph. Loaded from the cache it has no node footprints (GraphNet does not read them; rebuild from
    /// the image when pixels are needed).
    public var graph: OCTAGraph
    /// Class index (nil when unlabelled).
    public var label: Int?
    /// Split from the manifest.
    public var split: DatasetSplit?
    /// Content hash of image bytes + builder config (the cache key; also the data fingerprint's input).
    public var contentHash: String
}

/// Reads a cohort (`manifest.jsonl` as written by `capillary generate`), builds every image's graph on all
/// cores with the VesselGraph builder, and caches the graphs in `<cohort>/graph-cache/<hash>.json`, keyed by
/// a hash of the image bytes and the builder configuration, so a re-run only decodes JSON.
public struct CohortGraphLoader: Sendable {
    /// Graph builder settings (part of the cache key).
    public var builderConfig: VesselGraphConfig
    /// Cache folder (nil = `<cohort>/graph-cache`).
    public var cacheFolder: String?
    /// Version of the cached content; bump when what is cached changes.
    public static let cacheFormat = "graphnet-cache/1"

    /// A loader with these builder settings.
    public init(builderConfig: VesselGraphConfig = VesselGraphConfig(), cacheFolder: String? = nil) {
        self.builderConfig = builderConfig; self.cacheFolder = cacheFolder
    }

    /// The manifest of a cohort folder (or a manifest file path).
    /// - Throws: `CohortError.notFound` / `.badManifestLine`.
    public static func manifest(at path: String) throws -> CohortManifest {
        var isDir: ObjCBool = false
        let p = FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue
            ? (path as NSString).appendingPathComponent("manifest.jsonl") : path
        return try CohortManifest.load(path: p)
    }

    /// Graphs of every entry of `manifest` that has a label under `scheme` (unlabelled entries are skipped),
    /// in manifest order. `progress(done, total)` is called from worker threads as images finish.
    /// - Throws: `CohortError.badImage` naming an unreadable image, `GraphNetError.io` if the cache cannot be
    ///   written, `GraphNetError.badCohort` if no entry is labelled.
    public func load(_ manifest: CohortManifest, scheme: LabelScheme,
                     progress: @escaping @Sendable (Int, Int) -> Void = { _, _ in }) throws -> [LabeledGraph] {
        let entries = manifest.entries.filter { scheme.label(of: $0) != nil }
        guard !entries.isEmpty else {
            throw GraphNetError.badCohort(path: manifest.resolve("manifest.jsonl"), reason: "no entry has a \(scheme.rawValue) label")
        }
        let cache = cacheFolder ?? manifest.resolve("graph-cache")
        do { try FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true) }
        catch { throw GraphNetError.io(path: cache, reason: "cannot create the graph cache: \(error.localizedDescription)") }
        let configBytes = Self.configKey(builderConfig)
        let builder = VesselGraphBuilder(config: builderConfig)
        let results = ResultBox(count: entries.count)
        let done = Counter()
        Parallel.forEach(entries.count, minChunk: 1) { range in
            for i in range {
                let e = entries[i]
                results.set(i, Result { try Self.graph(of: e, manifest: manifest, builder: builder, configKey: configBytes, cache: cache) }
                    .map { LabeledGraph(id: e.id, imagePath: manifest.resolve(e.path), graph: $0.0, label: scheme.label(of: e),
                                        split: e.split, contentHash: $0.1) })
                progress(done.increment(), entries.count)
            }
        }
        return try results.values.map { try $0!.get() }
    }

    static func configKey(_ c: VesselGraphConfig) -> [UInt8] {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        return Array((try? enc.encode(c)) ?? Data()) + Array(cacheFormat.utf8)
    }

    static func graph(of e: CohortEntry, manifest: CohortManifest, builder: VesselGraphBuilder, configKey: [UInt8],
                      cache: String) throws -> (OCTAGraph, String) {
        let path = manifest.resolve(e.path)
        guard let bytes = FileManager.default.contents(atPath: path) else {
            throw CohortError.badImage(path: path, reason: "missing or unreadable image")
        }
        var h = ContentHash()
        h.update(bytes); h.update(configKey)
        if let fov = e.fovMM { h.update(Array(String(fov).utf8)) }
        let key = h.hex
        let file = (cache as NSString).appendingPathComponent(key + ".json")
        if let d = FileManager.default.contents(atPath: file), let g = try? JSONDecoder().decode(OCTAGraph.self, from: d) {
            return (g, key)
        }
        let image: GrayImage
        do {
            var img = try ImageIO.decode(bytes, name: path)
            img.pixelSizeMM = (e.fovMM ?? FieldOfView.defaultMM(widthPX: img.width)) / Double(img.width)
            image = img
        } catch { throw CohortError.badImage(path: path, reason: "\(error)") }
        var g = try builder.build(image)
        // The footprints are ~80% of the JSON and GraphNet never reads them.
        for t in NodeType.allCases { Self.dropFootprints(&g, t) }
        do { try g.jsonData().write(to: URL(fileURLWithPath: file), options: .atomic) }
        catch { throw GraphNetError.io(path: file, reason: "cannot write the graph cache: \(error.localizedDescription)") }
        return (g, key)
    }

    static func dropFootprints(_ g: inout OCTAGraph, _ t: NodeType) {
        switch t {
        case .vessel: g.vessel.footprints = []
        case .ica: g.ica.footprints = []
        case .faz: g.faz.footprints = []
        }
    }

    /// A fingerprint of a training set: hash of the sorted (id, content hash, label) triples.
    public static func fingerprint(_ graphs: [LabeledGraph]) -> String {
        var h = ContentHash()
        for g in graphs.sorted(by: { $0.id < $1.id }) { h.update(Array("\(g.id):\(g.contentHash):\(g.label ?? -1)\n".utf8)) }
        return h.hex
    }
}

/// Per-index results written from worker threads (each index by exactly one thread).
final class ResultBox: @unchecked Sendable {
    private(set) var values: [Result<LabeledGraph, Error>?]
    private let lock = NSLock()
    init(count: Int) { values = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ r: Result<LabeledGraph, Error>) { lock.lock(); values[i] = r; lock.unlock() }
}

/// A thread-safe counter for progress reports.
final class Counter: @unchecked Sendable {
    private var n = 0
    private let lock = NSLock()
    func increment() -> Int { lock.lock(); defer { lock.unlock() }; n += 1; return n }
}
