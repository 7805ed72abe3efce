import Foundation
import RPC

/// A model held in memory by the registry. Inference on it must be safe from many threads at once (its
/// weights are read-only after loading).
public protocol WarmModel: AnyObject, Sendable {
    /// Bytes of memory the loaded model holds (weights and caches), for `models/list` and status.
    var memoryBytes: Int { get }
}

/// How to load one kind of model ("gnn", "vlm", ...) from its store folder.
public struct ModelLoader: Sendable {
    /// The kind this loader handles (`StoredModel.kind`).
    public var kind: String
    /// Loads a version; throws a descriptive error for damaged files.
    public var load: @Sendable (StoredModel) throws -> any WarmModel

    /// A loader for `kind`.
    public init(kind: String, load: @escaping @Sendable (StoredModel) throws -> any WarmModel) {
        self.kind = kind
        self.load = load
    }
}

/// A model checked out for one request. It pins that version: a hot swap or an eviction meanwhile does not
/// affect it (the old weights stay alive until the last lease is released). Release it when done.
public final class ModelLease: @unchecked Sendable {
    /// The model's store entry (name, version, kind, metrics).
    public let stored: StoredModel
    /// The loaded model.
    public let model: any WarmModel
    private let onRelease: () -> Void
    private let lock = NSLock()
    private var released = false

    init(stored: StoredModel, model: any WarmModel, onRelease: @escaping () -> Void) {
        self.stored = stored
        self.model = model
        self.onRelease = onRelease
    }

    /// Marks the lease finished (idempotent); the keep-alive clock restarts from now.
    public func release() {
        lock.lock()
        let first = !released
        released = true
        lock.unlock()
        if first { onRelease() }
    }

    deinit { release() }
}

/// The outcome of `ModelRegistry.load`.
public struct ModelLoadOutcome: Sendable {
    /// The version now loaded under the name.
    public var stored: StoredModel
    /// Memory of the loaded model, bytes.
    public var memoryBytes: Int
    /// Time spent loading, ms (0 when it was already loaded).
    public var loadMS: Double
    /// Whether it was already in memory.
    public var wasLoaded: Bool
    /// Names evicted to stay within the maximum of loaded models.
    public var evicted: [String]
    /// The version replaced by this load (a hot swap), if any.
    public var replacedVersion: String?
}

/// The warm model registry: which model versions are in memory, keep-alive, LRU eviction, hot swap.
///
/// - At most one version per name is loaded; loading another version of a loaded name swaps it in: leases
///   already handed out keep the old version, new `acquire`s get the new one.
/// - Keep-alive per model (seconds of idleness before unloading; -1 forever); 0 means unload now.
/// - At most `maxLoaded` names in memory; loading one more evicts the least recently used.
/// - Loads are serialised (one at a time) so two requests for a cold model load it once.
public final class ModelRegistry: @unchecked Sendable {
    /// The store folder.
    public let storePath: String
    /// Names that may be in memory at once.
    public let maxLoaded: Int
    /// Keep-alive of models loaded without an explicit one, seconds (-1 forever).
    public let defaultKeepAliveSeconds: Double
    private var loaders: [String: ModelLoader] = [:]
    /// Appended to "store is empty" errors: how to fill the store.
    public var emptyStoreHint = "put a trained model there as <store>/<name>/<version>/{config.json,weights.safetensors}"

    private final class Entry {
        var stored: StoredModel
        var model: any WarmModel
        var keepAliveSeconds: Double
        var lastUsed: Date
        var leases = 0
        init(stored: StoredModel, model: any WarmModel, keepAliveSeconds: Double) {
            self.stored = stored
            self.model = model
            self.keepAliveSeconds = keepAliveSeconds
            lastUsed = Date()
        }
    }

    private let lock = NSLock()
    private let loadLock = NSLock()
    private var entries: [String: Entry] = [:]
    private var index: [StoredModel] = []

    /// A registry over `storePath` with these loaders (one per kind).
    public init(storePath: String, loaders: [ModelLoader], maxLoaded: Int, defaultKeepAliveSeconds: Double) {
        self.storePath = storePath
        self.maxLoaded = max(1, maxLoaded)
        self.defaultKeepAliveSeconds = defaultKeepAliveSeconds
        for l in loaders { self.loaders[l.kind] = l }
        index = ModelStoreIndex.scan(storePath)
    }

    /// The kinds this registry can load.
    public var kinds: [String] { loaders.keys.sorted() }

    /// Rescans the store folder (after a training job wrote a version, or on `models/list`).
    @discardableResult
    public func refresh() -> [StoredModel] {
        let scanned = ModelStoreIndex.scan(storePath)
        lock.lock()
        index = scanned
        lock.unlock()
        return scanned
    }

    /// The last scan of the store (cheap; for status).
    public var cachedIndex: [StoredModel] { lock.lock(); defer { lock.unlock() }; return index }

    /// Finds `name` (and `version`, default the newest) in the store.
    /// - Throws: `DaemonError.modelNotFound` naming what the store has (or that it is empty).
    public func find(_ name: String, version: String? = nil) throws -> StoredModel {
        var models = refresh()
        if models.isEmpty { models = [] }
        let candidates = models.filter { $0.name == name }
        if candidates.isEmpty {
            let names = Set(models.map(\.name)).sorted()
            throw DaemonError.modelNotFound(names.isEmpty
                ? "the model store \(storePath) is empty: \(emptyStoreHint)"
                : "no model named '\(name)' in \(storePath); it has: \(names.joined(separator: ", "))")
        }
        if let version {
            guard let m = candidates.first(where: { $0.version == version }) else {
                throw DaemonError.modelNotFound("model '\(name)' has no version '\(version)'; versions: \(candidates.map(\.version).joined(separator: ", "))")
            }
            return m
        }
        return ModelStoreIndex.latest(name, in: candidates)!
    }

    /// Loads `name` at `version` (default: the version already loaded, else the newest) and sets its
    /// keep-alive (default: unchanged if loaded, else `defaultKeepAliveSeconds`). A different version of a
    /// loaded name is swapped in. `keepAliveSeconds == 0` unloads the name instead (after which the outcome
    /// reports what was unloaded).
    /// - Throws: `DaemonError.modelNotFound`, `.modelLoadFailed`, `.invalidParams` for a bad keep-alive.
    @discardableResult
    public func load(_ name: String, version: String? = nil, keepAliveSeconds: Double? = nil) throws -> ModelLoadOutcome {
        if let k = keepAliveSeconds, !(k == -1 || (k >= 0 && k.isFinite)) {
            throw DaemonError.invalidParams("field 'keepAlive' must be seconds >= 0, or -1 for forever, got \(k)")
        }
        if keepAliveSeconds == 0 {
            let stored = try find(name, version: version)
            _ = unload(name)
            return ModelLoadOutcome(stored: stored, memoryBytes: 0, loadMS: 0, wasLoaded: false, evicted: [name],
                                    replacedVersion: nil)
        }
        loadLock.lock()
        defer { loadLock.unlock() }
        lock.lock()
        let current = entries[name]
        lock.unlock()
        let target = try find(name, version: version ?? current?.stored.version)
        if let current, current.stored.version == target.version {
            lock.lock()
            if let k = keepAliveSeconds { current.keepAliveSeconds = k }
            current.lastUsed = Date()
            let bytes = current.model.memoryBytes
            lock.unlock()
            return ModelLoadOutcome(stored: current.stored, memoryBytes: bytes, loadMS: 0, wasLoaded: true, evicted: [],
                                    replacedVersion: nil)
        }
        guard let loader = loaders[target.kind] else {
            throw DaemonError.modelLoadFailed("model '\(name)' is of kind '\(target.kind)', which this daemon cannot load (it loads: \(kinds.isEmpty ? "none" : kinds.joined(separator: ", ")))")
        }
        let t0 = ProcessStats.monotonicSeconds()
        let model: any WarmModel
        do { model = try loader.load(target) } catch {
            throw DaemonError.modelLoadFailed("\(target.directory): \(error)")
        }
        let ms = (ProcessStats.monotonicSeconds() - t0) * 1000
        lock.lock()
        let entry = Entry(stored: target, model: model,
                          keepAliveSeconds: keepAliveSeconds ?? current?.keepAliveSeconds ?? defaultKeepAliveSeconds)
        entries[name] = entry
        var evicted: [String] = []
        while entries.count > maxLoaded {
            // Least recently used other than the one just loaded; models in use are evicted too (their
            // leases keep the weights alive until they finish).
            guard let victim = entries.filter({ $0.key != name }).min(by: { $0.value.lastUsed < $1.value.lastUsed }) else { break }
            entries[victim.key] = nil
            evicted.append(victim.key)
        }
        lock.unlock()
        return ModelLoadOutcome(stored: target, memoryBytes: model.memoryBytes, loadMS: ms, wasLoaded: false,
                                evicted: evicted, replacedVersion: current?.stored.version)
    }

    /// Drops `name` from memory; requests holding a lease finish on it. Returns the version unloaded.
    @discardableResult
    public func unload(_ name: String) -> String? {
        lock.lock(); defer { lock.unlock() }
        return entries.removeValue(forKey: name)?.stored.version
    }

    /// Checks out `name` for one request, loading it (newest version) if it is not in memory.
    /// - Throws: as `load`.
    public func acquire(_ name: String) throws -> ModelLease {
        lock.lock()
        var entry = entries[name]
        lock.unlock()
        if entry == nil {
            try load(name)
            lock.lock()
            entry = entries[name]
            lock.unlock()
        }
        // Evicted again between the load and here (only under extreme churn): say so rather than loop.
        guard let e = entry else { throw DaemonError.busy(reason: "model '\(name)' was evicted while loading", retryAfterMs: 100) }
        lock.lock()
        let current = entries[name] ?? e
        current.leases += 1
        current.lastUsed = Date()
        let stored = current.stored, model = current.model
        lock.unlock()
        return ModelLease(stored: stored, model: model) { [weak self, weak current] in
            guard let self else { return }
            self.lock.lock()
            if let current {
                current.leases -= 1
                current.lastUsed = Date()
            }
            self.lock.unlock()
        }
    }

    /// Unloads models idle longer than their keep-alive (not those in use); returns the names unloaded.
    @discardableResult
    public func expireIdle(now: Date = Date()) -> [String] {
        lock.lock(); defer { lock.unlock() }
        let expired = entries.filter { _, e in
            e.leases == 0 && e.keepAliveSeconds >= 0 && now.timeIntervalSince(e.lastUsed) >= e.keepAliveSeconds
        }.map(\.key)
        for n in expired { entries[n] = nil }
        return expired
    }

    /// One loaded model's state.
    public struct LoadedState: Sendable {
        /// Store entry of the loaded version.
        public var stored: StoredModel
        /// Memory held, bytes.
        public var memoryBytes: Int
        /// Last time a request used it (or it was loaded).
        public var lastUsed: Date
        /// Idle seconds before unloading (-1 forever).
        public var keepAliveSeconds: Double
        /// Requests using it now.
        public var leases: Int
    }

    /// What is in memory, by name.
    public func loaded() -> [String: LoadedState] {
        lock.lock(); defer { lock.unlock() }
        var out: [String: LoadedState] = [:]
        for (n, e) in entries {
            out[n] = LoadedState(stored: e.stored, memoryBytes: e.model.memoryBytes, lastUsed: e.lastUsed,
                                 keepAliveSeconds: e.keepAliveSeconds, leases: e.leases)
        }
        return out
    }
}
