/// Settings of the Daemon's methods (the transport's own limits live in `RPCServerConfiguration`).
public struct DaemonConfiguration: Sendable {
    /// Model store folder: `<store>/<name>/<version>/{config.json,weights.safetensors,metrics.json}`.
    public var storePath: String
    /// Jobs (`dataset/generate`, `train`) that may run at once; one more is refused with -32010.
    public var maxConcurrentJobs = 1
    /// Finished jobs remembered by `jobs/list` (oldest dropped first).
    public var finishedJobsKept = 100
    /// Models kept in memory at once; loading one more evicts the least recently used.
    public var maxLoadedModels = 3
    /// Idle time after which a loaded model is unloaded, seconds; -1 keeps models forever.
    public var defaultKeepAliveSeconds = 300.0
    /// Names loaded at start-up (if the store has them), kept forever (keep-alive -1).
    public var defaultModels: [String] = ["graphnet", "vlm"]
    /// Model `stage` uses when the request names none, and that `train {kind: "gnn"}` writes.
    public var defaultStageModel = "graphnet"
    /// Model `explain` uses when the request names none, and that `train {kind: "vlm"}` writes.
    public var defaultExplainModel = "vlm"
    /// How often the keep-alive sweep runs, seconds.
    public var keepAliveSweepSeconds = 0.25
    /// Largest accepted image width or height, px (checked from the header, before decoding).
    public var maxImageSidePX = 4096
    /// Largest accepted encoded image (file or decoded base64), bytes.
    public var maxImageBytes = 32 << 20
    /// Largest synthetic image side, px (simulation cost grows with the area).
    public var maxSyntheticSidePX = 1024
    /// Largest `dataset/generate` count.
    public var maxGenerateCount = 100_000

    /// Settings with these defaults and the given store.
    public init(storePath: String) { self.storePath = storePath }
}
