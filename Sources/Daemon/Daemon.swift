import Foundation
import RPC

/// Capillary's method handlers over the RPC core: image -> graph, the warm model registry, background jobs.
///
/// Use: create it, put `statusMembers` into `RPCServerConfiguration.statusExtension`, `register(on:)` the
/// server before starting it, `start()` (loads the default models, starts the keep-alive sweep), and
/// `shutdown()` after the server stops (cancels jobs).
public final class Daemon: @unchecked Sendable {
    /// The settings.
    public let configuration: DaemonConfiguration
    /// Warm models.
    public let registry: ModelRegistry
    /// Background jobs.
    public let jobs: JobManager
    /// Decoder of `image` params.
    public let images: ImageParameter
    private let logger: Logger
    private let sweepStop = DispatchSemaphore(value: 0)
    private var sweepThread: Thread?
    private let sweepDone = DispatchSemaphore(value: 0)

    /// A daemon with these settings and model loaders (one per kind it can serve).
    public init(configuration: DaemonConfiguration, loaders: [ModelLoader], logger: Logger = Logger(level: .warn)) {
        self.configuration = configuration
        self.logger = logger
        registry = ModelRegistry(storePath: configuration.storePath, loaders: loaders,
                                 maxLoaded: configuration.maxLoadedModels,
                                 defaultKeepAliveSeconds: configuration.defaultKeepAliveSeconds)
        jobs = JobManager(maxConcurrent: configuration.maxConcurrentJobs, keepFinished: configuration.finishedJobsKept)
        images = ImageParameter(configuration: configuration)
    }

    /// Method names this daemon registers.
    public static let methodNames = ["graph", "stage", "attribute", "explain", "train", "dataset/generate", "jobs/list", "jobs/cancel",
                                     "models/list", "models/load", "models/unload"]

    /// Registers every Daemon method on `server` (before `server.start()`).
    public func register(on server: RPCServer) {
        let graph = GraphMethod(images: images)
        let dataset = DatasetMethod(configuration: configuration, jobs: jobs)
        let jobMethods = JobMethods(jobs: jobs)
        let models = ModelMethods(registry: registry)
        add(server, "graph", graph.handle)
        let stage = StageMethod(images: images, registry: registry, defaultModel: configuration.defaultStageModel)
        add(server, "stage", stage.handle)
        let attribute = AttributeMethod(images: images, registry: registry, defaultModel: configuration.defaultStageModel)
        add(server, "attribute", attribute.handle)
        let explain = ExplainMethod(images: images, registry: registry, defaultModel: configuration.defaultExplainModel)
        add(server, "explain", explain.handle)
        let train = TrainMethod(configuration: configuration, jobs: jobs, registry: registry)
        add(server, "train", train.handle)
        canTrain = true
        registry.emptyStoreHint = "run train (e.g. {\"kind\":\"gnn\",\"generate\":{\"count\":200,\"seed\":1}}) to create one"
        add(server, "dataset/generate", dataset.handle)
        add(server, "jobs/list", jobMethods.list)
        add(server, "jobs/cancel", jobMethods.cancel)
        add(server, "models/list", models.list)
        add(server, "models/load", models.load)
        add(server, "models/unload", models.unload)
    }

    /// Registers `handler` with `DaemonError`s turned into their JSON-RPC errors.
    public func add(_ server: RPCServer, _ method: String, _ handler: @escaping (RequestContext) throws -> JSONValue) {
        server.register(method) { ctx in
            do { return try handler(ctx) } catch let e as DaemonError { throw e.rpcError }
        }
    }

    /// Removes leftovers of interrupted saves (`StaleTemporaryFiles`: temporary folders and files of writers
    /// killed mid-save; they never count as versions). Call it before the server accepts clients, so that no
    /// client ever sees them; it only removes what a dead process wrote, so it is safe even when another
    /// daemon turns out to own the socket.
    public func removeStaleTemporaryFiles() {
        for p in StaleTemporaryFiles.remove(in: configuration.storePath) { logger.info("removed \(p): left by an interrupted save") }
    }

    /// Loads the default models the store has (keep-alive forever) and starts the keep-alive sweep.
    public func start() {
        let stored = registry.refresh()
        for name in configuration.defaultModels where stored.contains(where: { $0.name == name }) {
            do {
                let r = try registry.load(name, keepAliveSeconds: -1)
                logger.info("loaded \(name) \(r.stored.version) (\(r.memoryBytes) bytes) in \(String(format: "%.0f", r.loadMS)) ms")
            } catch {
                logger.warn("could not load default model \(name): \(error)")
            }
        }
        logger.info(storeMessage(stored))
        let t = Thread { [self] in
            var lastScan = ProcessStats.monotonicSeconds()
            while sweepStop.wait(timeout: .now() + configuration.keepAliveSweepSeconds) == .timedOut {
                for n in registry.expireIdle() { logger.info("unloaded \(n): keep-alive expired") }
                // Keeps status's cached view of the store fresh without touching the disk on the loop thread.
                if ProcessStats.monotonicSeconds() - lastScan > 2 {
                    registry.refresh()
                    lastScan = ProcessStats.monotonicSeconds()
                }
            }
            sweepDone.signal()
        }
        t.name = "capillary-keepalive"
        t.start()
        sweepThread = t
    }

    /// Cancels running jobs (waiting up to `timeout` seconds) and stops the keep-alive sweep.
    public func shutdown(timeout: Double = 5) {
        jobs.shutdown(timeout: timeout)
        if sweepThread != nil {
            sweepStop.signal()
            sweepDone.wait()
            sweepThread = nil
        }
    }

    /// Whether a `train` method is registered (the store messages tell users to run it only then).
    public private(set) var canTrain = false

    /// How to fill the store, for messages.
    var fillHint: String {
        canTrain ? "run train (method 'train') to create models"
            : "copy a trained model there as <store>/<name>/<version>/{config.json,weights.safetensors} (this build has no 'train' method)"
    }

    /// One line about the store: empty (and how to fill it) or what it holds.
    func storeMessage(_ stored: [StoredModel]) -> String {
        if stored.isEmpty {
            return "model store \(configuration.storePath) is empty: \(fillHint); graph and dataset/generate work without models"
        }
        let names = Set(stored.map(\.name)).sorted()
        let missing = configuration.defaultModels.filter { !names.contains($0) }
        var s = "model store \(configuration.storePath): \(names.joined(separator: ", "))"
        if !missing.isEmpty { s += "; missing default model(s) \(missing.joined(separator: ", ")): \(fillHint)" }
        return s
    }

    /// Members added to `status` (cheap: cached store scan and in-memory state only).
    public func statusMembers() -> JSONObject {
        let stored = registry.cachedIndex
        let loaded = registry.loaded()
        var loadedRows: [JSONValue] = []
        for n in loaded.keys.sorted() {
            let l = loaded[n]!
            loadedRows.append(["name": .string(n), "version": .string(l.stored.version), "kind": .string(l.stored.kind),
                               "memoryBytes": .int(Int64(l.memoryBytes)), "inUse": .int(Int64(l.leases))])
        }
        return [
            "store": ["path": .string(configuration.storePath), "state": .string(stored.isEmpty ? "empty" : "ready"),
                      "models": .int(Int64(Set(stored.map(\.name)).count)), "versions": .int(Int64(stored.count)),
                      "message": .string(storeMessage(stored))],
            "loadedModels": .array(loadedRows),
            "loadedModelBytes": .int(Int64(loaded.values.reduce(0) { $0 + $1.memoryBytes })),
            "jobs": ["running": .int(Int64(jobs.runningCount)), "maxConcurrent": .int(Int64(jobs.maxConcurrent))],
        ]
    }
}
