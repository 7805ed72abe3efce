import ArgumentParser
import Attribution
import Foundation
import GraphNet
import Retina
import Tensors
import VesselGraph

/// `capillary bench-attribution`: milliseconds for integrated gradients (50 Gauss-Legendre steps) on one
/// graph of the peer's shapes (~1,500 vessel + ~400 ICA nodes) and on a generated 6 mm / 400 px eye, batched
/// vs step by step, with the time of each phase of the batched pass; prints a markdown table, writes JSON.
struct BenchAttributionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-attribution",
        abstract: "Benchmark integrated gradients: ms per graph (50 steps), batched vs step by step, per-phase times.",
        discussion: "capillary bench-attribution [--repeats 5] [--steps 50] [--out bench-out/attribution.json]")

    @Option(help: "Timed repetitions (the median is reported).") var repeats: Int = 5
    @Option(help: "Quadrature steps.") var steps: Int = 50
    @Option(help: "Vessel nodes of the random graph.") var vessels: Int = 1500
    @Option(help: "ICA nodes of the random graph.") var icas: Int = 400
    @Option(name: .customLong("edges-per-node"), help: "Edges per node of the random graph.") var edgesPerNode: Double = 3
    @Option(help: "Hidden width of the (random-weight) GNN.") var hidden: Int = 64
    @Option(help: "Message-passing layers.") var layers: Int = 2
    @Option(help: "Activation of the GNN (relu, leakyRelu, elu, gelu, tanh, silu); default: GraphNetConfig's (silu).") var activation: String?
    @Option(help: "Readout of the GNN (mean-max, mean-logmeanexp); default: GraphNetConfig's (mean-logmeanexp).") var readout: String?
    @Flag(name: .customLong("no-generated"), help: "Skip the generated 6 mm / 400 px eye.") var noGenerated = false
    @Option(help: "Where to write JSON.") var out: String = "bench-out/attribution.json"
    @Option(name: .customLong("sweep"), help: "Comma-separated pass layouts to time as well: STEPS-PER-PASS or STEPS-PER-PASSxCONCURRENT-PASSES (e.g. 50x1,10x1,25x2,5x2).") var sweep: String = "50x1,10x1,5x2,10x2,25x2"
    @Flag(name: .customLong("batched-only"), help: "Time only the batched run (no step-by-step, sweep or phases): for profilers.") var batchedOnly = false
    @Flag(name: .customLong("system-malloc"), help: "Keep glibc's default mmap/trim thresholds (to measure their cost).") var systemMalloc = false

    struct Row: Codable {
        var graph: String
        var vesselNodes: Int
        var icaNodes: Int
        var edges: Int
        var batchedMS: Double
        var batchedCPUMS: Double
        var stepByStepCPUMS: Double
        var stepByStepMS: Double
        var speedup: Double
        var chunked10MS: Double
        var sweepMS: [String: Double]
        var sweepCPUMS: [String: Double]
        var phases: [String: Double]
        var relativeDelta: Double
        enum CodingKeys: String, CodingKey {
            case graph, edges, speedup, phases
            case vesselNodes = "vessel_nodes", icaNodes = "ica_nodes", batchedMS = "batched_ms", batchedCPUMS = "batched_cpu_ms", stepByStepCPUMS = "step_by_step_cpu_ms", stepByStepMS = "step_by_step_ms"
            case chunked10MS = "chunked_10_steps_per_pass_ms", sweepMS = "steps_per_pass_ms", sweepCPUMS = "steps_per_pass_cpu_ms", relativeDelta = "relative_delta"
        }
    }

    func run() throws {
        if !systemMalloc { GNNMemory.keepFreedMemory() }
        var graphs: [(String, OCTAGraph)] = [("random \(vessels) vessel + \(icas) ICA + 1 FAZ, \(edgesPerNode) edges/node",
                                              RandomGraphs.graph(vessels: vessels, icas: icas, faz: 1, edgesPerNode: edgesPerNode, seed: 1))]
        if !noGenerated {
            let eye = OCTASimulator(config: SimulatorConfig(sizePX: 400, fovMM: 6)).generate(seed: 7, severity: 0.5)
            graphs.append(("generated 6 mm / 400 px eye (seed 7, severity 0.5)", try VesselGraphBuilder().build(eye.image)))
        }
        var rows: [Row] = []
        for (label, g) in graphs {
            var a = GraphNetConfig()
            a.hidden = hidden; a.layers = layers
            if let name = activation {
                guard let act = Tensors.Activation(rawValue: name) else { throw ValidationError("--activation must be relu, leakyRelu, elu, gelu, tanh or silu") }
                a.activation = act
            }
            if let name = readout {
                guard let r = GraphReadout(rawValue: name) else { throw ValidationError("--readout must be mean-max or mean-logmeanexp") }
                a.readout = r
            }
            let normalizer = try FeatureNormalizer(fitting: [g])
            let config = StagingModelConfig(architecture: a, normalizer: normalizer, healthyReferences: [], builder: VesselGraphConfig(),
                                            labelScheme: .stage, training: nil, dataFingerprint: "bench", trainCount: 1, valCount: 0)
            let model = try StagingModel(storedConfig: config, seed: 1)
            let ig = IntegratedGradients(model: model)
            var o = IntegratedGradientsOptions()
            o.steps = steps
            _ = try ig.attribute(g, options: o)  // warm-up (buffer cache, BLAS threads)
            var delta = 0.0
            let batched = try median(repeats) {
                let r = try ig.attribute(g, options: o)
                delta = abs(r.convergenceDelta) / max(abs(r.targetLogit - r.baselineLogit), 1e-12)
            }
            let batchedCPU = Self.lastCPU
            if batchedOnly {
                print(String(format: "%@: batched %.1f ms (CPU %.0f ms), rel. delta %.1e", label, batched, batchedCPU, delta))
                continue
            }
            let stepwise = try median(max(1, repeats / 2)) { _ = try ig.attributeStepByStep(g, options: o) }
            let stepwiseCPU = Self.lastCPU
            var oc = o
            oc.stepsPerPass = 10; oc.concurrentPasses = 1
            let chunked = try median(max(1, repeats / 2)) { _ = try ig.attribute(g, options: oc) }
            var sweepMS: [String: Double] = [:], sweepCPUMS: [String: Double] = [:]
            for item in sweep.split(separator: ",") {
                let parts = item.split(separator: "x").compactMap { Int($0) }
                guard let p = parts.first, p >= 1 else { throw ValidationError("--sweep: bad entry \(item) (STEPS-PER-PASS or STEPS-PER-PASSxCONCURRENT-PASSES)") }
                var os = o
                os.stepsPerPass = p
                os.concurrentPasses = parts.count > 1 ? parts[1] : 1
                sweepMS[String(item)] = try median(max(1, repeats / 2)) { _ = try ig.attribute(g, options: os) }
                sweepCPUMS[String(item)] = Self.lastCPU
            }
            let phases = try phaseTimes(model, g)
            let edges = g.relations.reduce(0) { $0 + $1.count }
            rows.append(Row(graph: label, vesselNodes: g.vessel.count, icaNodes: g.ica.count, edges: edges, batchedMS: batched, batchedCPUMS: batchedCPU, stepByStepCPUMS: stepwiseCPU,
                            stepByStepMS: stepwise, speedup: stepwise / batched, chunked10MS: chunked, sweepMS: sweepMS, sweepCPUMS: sweepCPUMS, phases: phases, relativeDelta: delta))
        }
        if batchedOnly { return }
        let cpu = BenchRPCCommand.cpuModel()
        let load = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").first.map(String.init) ?? "?"
        print("Integrated gradients, \(steps) Gauss-Legendre steps, GNN \(activation ?? GraphNetConfig().activation.rawValue) + \(readout ?? GraphNetConfig().readout.rawValue), malloc \(systemMalloc ? "glibc defaults" : "freed memory kept (GNNMemory)"), GNN hidden \(hidden), \(layers) layers (random weights), median of \(repeats); \(ProcessInfo.processInfo.activeProcessorCount) cores, \(cpu), load \(load)\n")
        print("| graph | vessel / ICA nodes | edges | batched ms (CPU ms) | step-by-step ms (CPU ms) | speed-up | 10 steps per pass, one pass at a time, ms | rel. delta |")
        print("|---|---|---|---|---|---|---|---|")
        for r in rows {
            print(String(format: "| %@ | %d / %d | %d | %.1f (%.0f) | %.1f (%.0f) | %.2fx | %.1f | %.1e |", r.graph, r.vesselNodes, r.icaNodes, r.edges,
                         r.batchedMS, r.batchedCPUMS, r.stepByStepMS, r.stepByStepCPUMS, r.speedup, r.chunked10MS, r.relativeDelta))
        }
        print("\nPass layouts, steps per pass x concurrent passes (ms wall (CPU ms), median):\n")
        for r in rows {
            print("- \(r.graph): " + sweep.split(separator: ",").map(String.init).compactMap { k in
                r.sweepMS[k].map { "\(k): \(String(format: "%.1f (%.0f)", $0, r.sweepCPUMS[k] ?? .nan))" } }.joined(separator: ", "))
        }
        print("\nPhases of one batched pass (ms, median):\n")
        let names = ["batch_one_graph", "union_of_copies", "fill_leaves", "forward", "backward", "endpoints_forward"]
        print("| graph | " + names.joined(separator: " | ") + " |")
        print("|---|" + names.map { _ in "---" }.joined(separator: "|") + "|")
        for r in rows { print("| \(r.graph) | " + names.map { String(format: "%.1f", r.phases[$0] ?? .nan) }.joined(separator: " | ") + " |") }
        let dir = (out as NSString).deletingLastPathComponent
        if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        struct Report: Codable { var steps: Int; var hidden: Int; var layers: Int; var cpu: String; var cores: Int; var load: String; var rows: [Row] }
        try enc.encode(Report(steps: steps, hidden: hidden, layers: layers, cpu: cpu, cores: ProcessInfo.processInfo.activeProcessorCount,
                              load: load, rows: rows)).write(to: URL(fileURLWithPath: out))
    }

    /// Median wall time of `n` runs of `body`, ms; the median process CPU time (all threads, user + system)
    /// of the same runs is added to `cpuTimes` (robust to other processes sharing the cores).
    func median(_ n: Int, _ body: () throws -> Void) throws -> Double {
        var t: [Double] = [], c: [Double] = []
        for _ in 0..<max(1, n) {
            let s = DispatchTime.now().uptimeNanoseconds, cs = Self.cpuMS()
            try body()
            t.append(Double(DispatchTime.now().uptimeNanoseconds - s) / 1e6)
            c.append(Self.cpuMS() - cs)
        }
        BenchAttributionCommand.lastCPU = c.sorted()[c.count / 2]
        return t.sorted()[t.count / 2]
    }

    nonisolated(unsafe) static var lastCPU = 0.0

    /// CPU time of this process so far (user + system, all threads), ms.
    static func cpuMS() -> Double {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000 + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1000
    }

    /// The phases of one batched pass of all steps (concurrentPasses 1), timed separately with the same GraphNet
    /// calls IntegratedGradients makes.
    func phaseTimes(_ model: StagingModel, _ g: OCTAGraph) throws -> [String: Double] {
        var out: [String: [Double]] = [:]
        for _ in 0..<max(1, repeats) {
            var s = DispatchTime.now().uptimeNanoseconds
            func lap(_ name: String) {
                let now = DispatchTime.now().uptimeNanoseconds
                out[name, default: []].append(Double(now - s) / 1e6)
                s = now
            }
            let single = try model.makeBatch([g])
            lap("batch_one_graph")
            var batch = single.repeated(steps)
            lap("union_of_copies")
            let leaves = batch.features.map { $0.detached(requiresGrad: true) }
            for i in leaves.indices { batch.features[i] = leaves[i] }
            let masks = batch.onesEdgeMasks(requiresGrad: true)
            lap("fill_leaves")
            let logits = Tensor.withFrozenParameters { model.logits(batch, edgeMasks: masks) }
            lap("forward")
            var seed = [Float](repeating: 0, count: logits.count)
            for r in 0..<steps { seed[r * logits.shape[1]] = 1 }
            logits.backward(seed: seed)
            lap("backward")
            let pair = single.repeated(2)
            _ = Tensor.withoutGrad { model.logits(pair, edgeMasks: nil) }
            lap("endpoints_forward")
        }
        return out.mapValues { $0.sorted()[$0.count / 2] }
    }
}
