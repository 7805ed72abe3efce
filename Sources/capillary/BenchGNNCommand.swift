import ArgumentParser
import Foundation
import GraphNet
import Tensors
import VesselGraph

/// `capillary bench-gnn`: GraphNet training time per epoch of 1,000 graphs and inference time per graph at
/// batch 1 and 64, on the PyTorch Geometric peer's synthetic shapes and on real cohort graphs; prints a
/// markdown table and writes JSON.
struct BenchGNNCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-gnn",
        abstract: "Benchmark GraphNet: s per training epoch of 1,000 graphs, ms per graph at inference (batch 1 and 64), RSS.",
        discussion: "capillary bench-gnn [--cohort DIR] [--graphs 1000] [--out bench-out/gnn.json]")

    @Option(help: "Cohort whose (cached) graphs give the real-graph rows; omitted = peer shapes only.") var cohort: String?
    @Option(help: "Graphs per training epoch.") var graphs: Int = 1000
    @Option(name: .customLong("batch-size"), help: "Training batch size.") var batchSize: Int = 32
    @Option(help: "Hidden width.") var hidden: Int = 64
    @Option(help: "Message-passing layers.") var layers: Int = 2
    @Flag(help: "Time the smooth architecture (SiLU, mean + log-mean-exp readout; GraphNetConfig.smooth): the default now, kept for old command lines.") var smooth = false
    @Flag(help: "Time the previous default (leaky ReLU, mean + max readout; GraphNetConfig.piecewiseLinear).") var leaky = false
    @Option(help: "Vessel nodes per synthetic graph.") var vessels: Int = 1500
    @Option(help: "ICA nodes per synthetic graph.") var icas: Int = 400
    @Option(name: .customLong("edges-per-node"), help: "Edges per node in synthetic graphs.") var edgesPerNode: Double = 3
    @Option(help: "Distinct synthetic graphs (cycled to fill an epoch).") var distinct: Int = 64
    @Option(help: "Epochs timed (the minimum is reported).") var epochs: Int = 2
    @Option(help: "Where to write JSON.") var out: String = "bench-out/gnn.json"
    @Flag(name: .customLong("system-malloc"), help: "Keep glibc's default mmap/trim thresholds (to measure their cost).") var systemMalloc = false

    struct Row: Codable {
        var graphs: String
        var meanNodes: Double
        var meanEdges: Double
        var epochSeconds: Double
        var epochCPUSeconds: Double
        var inferenceMSBatch1: Double
        var inferenceMSBatch64: Double
        var peakRSSMB: Double
        /// One integrated-gradients batch: 50 stacked copies of one graph, forward + backward to the edge
        /// masks and node features with frozen parameters (what the Attribution module runs), ms.
        var attributionBatch50MS: Double
        enum CodingKeys: String, CodingKey {
            case graphs, meanNodes = "mean_nodes", meanEdges = "mean_edges", epochSeconds = "epoch_seconds"
            case epochCPUSeconds = "epoch_cpu_seconds"
            case inferenceMSBatch1 = "inference_ms_per_graph_batch1", inferenceMSBatch64 = "inference_ms_per_graph_batch64"
            case peakRSSMB = "peak_rss_mb", attributionBatch50MS = "attribution_batch50_ms"
        }
    }

    func run() throws {
        if !systemMalloc { GNNMemory.keepFreedMemory() }
        var rows: [Row] = []
        let synthetic = (0..<distinct).map { RandomGraphs.graph(vessels: vessels, icas: icas, faz: 1, edgesPerNode: edgesPerNode, seed: UInt64($0)) }
        rows.append(try measure(synthetic, label: "peer shapes (\(vessels) vessel + \(icas) ICA + 1 FAZ, \(edgesPerNode) edges/node)"))
        if let cohort {
            let manifest = try CohortGraphLoader.manifest(at: cohort)
            let real = try CohortGraphLoader().load(manifest, scheme: .stage).map(\.graph)
            rows.append(try measure(real, label: "real cohort graphs (\(real.count) distinct, \(cohort))"))
        }
        let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?.split(separator: "\n")
            .first { $0.hasPrefix("model name") }.map { String($0.split(separator: ":").last ?? "").trimmingCharacters(in: .whitespaces) } ?? "unknown"
        print("GraphNet hidden \(hidden), \(layers) layers\(leaky ? " (previous default: leaky ReLU, mean + max readout)" : " (smooth default: SiLU, mean + log-mean-exp readout)"), batch \(batchSize), \(graphs) graphs per epoch; \(ProcessInfo.processInfo.activeProcessorCount) cores, \(cpu)\n")
        print("| graphs | mean nodes | mean edges | s / epoch (\(graphs) graphs) | CPU s / epoch (all threads) | ms / graph, batch 1 | ms / graph, batch 64 | IG batch of 50 copies, fwd+bwd ms | peak RSS MB |")
        print("|---|---|---|---|---|---|---|---|---|")
        for r in rows {
            print(String(format: "| %@ | %.0f | %.0f | %.2f | %.2f | %.2f | %.2f | %.1f | %.0f |", r.graphs, r.meanNodes, r.meanEdges, r.epochSeconds,
                         r.epochCPUSeconds, r.inferenceMSBatch1, r.inferenceMSBatch64, r.attributionBatch50MS, r.peakRSSMB))
        }
        print("\nPeer (PyTorch Geometric, same machine, peer shapes): 8.6-9.4 s/epoch, 4.9 ms/graph at batch 1; targets <= 6 s, <= 3 ms.")
        let enc = JSONEncoder(); enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try? FileManager.default.createDirectory(atPath: (out as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let doc = BenchDoc(hidden: hidden, layers: layers, batchSize: batchSize, graphsPerEpoch: graphs, cores: ProcessInfo.processInfo.activeProcessorCount,
                           cpu: cpu, rows: rows)
        try enc.encode(doc).write(to: URL(fileURLWithPath: out))
        print("wrote \(out)")
    }

    struct BenchDoc: Codable {
        var hidden: Int, layers: Int, batchSize: Int, graphsPerEpoch: Int, cores: Int, cpu: String, rows: [Row]
    }

    func measure(_ pool: [OCTAGraph], label: String) throws -> Row {
        var arch = leaky ? GraphNetConfig.piecewiseLinear : GraphNetConfig.smooth
        arch.hidden = hidden; arch.layers = layers
        let normalizer = try FeatureNormalizer(fitting: Array(pool.prefix(64)))
        let config = StagingModelConfig(architecture: arch, normalizer: normalizer, healthyReferences: [], builder: VesselGraphConfig(),
                                        labelScheme: .stage, training: nil, dataFingerprint: "bench", trainCount: 0, valCount: 0)
        let model = try StagingModel(storedConfig: config, seed: 1)
        let opt = AdamW(parameters: model.network.parameters(), learningRate: 1e-3)
        let labels = (0..<graphs).map { $0 % 3 }
        var best = Double.infinity, bestCPU = Double.infinity
        for e in 0..<max(epochs, 1) {
            let t0 = Date(), c0 = Self.cpuSeconds()
            var i = 0, step: UInt64 = 0
            while i < graphs {
                let idx = Array(i..<min(i + batchSize, graphs))
                i += batchSize; step += 1
                // Batch assembly (normalisation, index shifting) is part of the timed epoch, as in training.
                let b = try model.batch(idx.map { pool[$0 % pool.count] })
                let logits = model.network.forward(b, mode: .training(dropoutSeed: step + UInt64(e) * 1000))
                let loss = Tensor.crossEntropy(logits: logits, targets: idx.map { labels[$0] })
                opt.zeroGrad(); loss.backward(); opt.step()
            }
            best = min(best, Date().timeIntervalSince(t0)); bestCPU = min(bestCPU, Self.cpuSeconds() - c0)
        }
        // Inference: batch 1 over every pool graph (at least 64 calls), batch 64 over 4 batches.
        _ = try model.predict([pool[0]])
        let n1 = max(64, pool.count)
        var t0 = Date()
        for k in 0..<n1 { _ = try model.predict([pool[k % pool.count]]) }
        let ms1 = Date().timeIntervalSince(t0) * 1000 / Double(n1)
        let big = (0..<256).map { pool[$0 % pool.count] }
        t0 = Date()
        _ = try model.predict(big, batchSize: 64)
        let ms64 = Date().timeIntervalSince(t0) * 1000 / Double(big.count)
        // Integrated gradients as Attribution runs it: 50 interpolation steps stacked into one batch, masks
        // and features requiring gradients, parameters frozen; the best of 5 runs after a warm-up.
        let ig = try model.batch(Array(repeating: pool[0], count: 50))
        var igBest = Double.infinity
        for _ in 0..<6 {
            var b = ig
            b.features = b.features.map { $0.detached(requiresGrad: true) }
            let masks = b.onesEdgeMasks(requiresGrad: true)
            let t = Date()
            Tensor.withFrozenParameters {
                let logits = model.network.forward(b, edgeMasks: masks, mode: .inference)
                let seed = (0..<logits.count).map { $0 % logits.shape[1] == 0 ? Float(1) : 0 }
                logits.backward(seed: seed)
            }
            igBest = min(igBest, Date().timeIntervalSince(t) * 1000)
        }
        let nodes = pool.map { Double($0.vessel.count + $0.ica.count + $0.faz.count) }.reduce(0, +) / Double(pool.count)
        let edges = pool.map { Double($0.relations.reduce(0) { $0 + $1.count }) }.reduce(0, +) / Double(pool.count)
        return Row(graphs: label, meanNodes: nodes, meanEdges: edges, epochSeconds: best, epochCPUSeconds: bestCPU, inferenceMSBatch1: ms1,
                   inferenceMSBatch64: ms64, peakRSSMB: Self.peakRSSMB(), attributionBatch50MS: igBest)
    }

    /// User + system CPU time of the process (all threads), s.
    static func cpuSeconds() -> Double {
        var u = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
        return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
    }

    /// VmHWM of this process, MB (0 where /proc is unavailable).
    static func peakRSSMB() -> Double {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = s.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
        return kb / 1024
    }
}

/// glibc returns every freed block above the mmap threshold (at most 32 MB) to the kernel, so each GNN
/// batch, whose tensor sizes differ from the last one's, page-faults its 10-100 MB of activations in
/// again (measured: ~10% of an epoch in exc_page_fault / clear_page). Raising the thresholds keeps freed
/// memory in the heap for reuse. Process-wide, so only the commands call it, never the library.
enum GNNMemory {
    static func keepFreedMemory() {
        // mallopt is not in Swift's Glibc module map; look it up. M_TRIM_THRESHOLD = -1, M_MMAP_THRESHOLD = -3.
        guard let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }
        let mallopt = unsafeBitCast(sym, to: (@convention(c) (Int32, Int32) -> Int32).self)
        _ = mallopt(-3, 1 << 30)
        _ = mallopt(-1, 1 << 30)
    }
}
