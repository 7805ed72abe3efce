import ArgumentParser
import Common
import Dispatch
import Foundation
import Tensors

/// `capillary bench-tensors`: sgemm GFLOPS on the model shapes with 1 and 2 OpenBLAS threads, the overhead
/// of one autodiff MLP training step over its raw sgemm calls, and timings of the ops the GNN and VLM lean
/// on. Prints markdown tables and writes bench-out/tensors.json.
struct BenchTensorsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-tensors",
        abstract: "Benchmark the Tensors core: sgemm GFLOPS (1 vs 2 OpenBLAS threads), MLP step overhead, model-shape ops.")

    @Option(help: "Seconds to spend timing each case (after a warm-up call).")
    var seconds: Double = 0.5

    @Option(help: "Where to write the JSON results.")
    var out: String = "bench-out/tensors.json"

    @Option(help: "Only time the model-shape ops whose name contains this text (for profiling); skips the rest.")
    var onlyOp: String?

    struct GemmRow: Codable {
        var shape: String, m: Int, k: Int, n: Int, use: String
        var gflops1: Double, gflops2: Double, gflopsSplit: Double, ms1: Double, ms2: Double, msSplit: Double
    }
    struct OpRow: Codable { var name: String; var shape: String; var threads: Int; var msMedian: Double; var msMin: Double }
    struct MLPResult: Codable {
        var batch: Int, input: Int, hidden: Int, classes: Int, blasThreads: Int
        var stepMS: Double, rawSgemmMS: Double, overheadPercent: Double
        var forwardMS: Double, backwardMS: Double, adamwMS: Double
        var stepMedianMS: Double, rawSgemmMedianMS: Double
    }
    struct Report: Codable {
        var machine: String, cores: Int, defaultBlasThreads: Int, blasCore: String, blasDetectedCore: String
        var gemm: [GemmRow], peakGflops: Double, mlp: [MLPResult], ops: [OpRow], tinyOpMicroseconds: Double
        var decodeTokenMS: Double
    }

    /// Median milliseconds per call of `body`, repeated for about `seconds` after one warm-up call.
    func timeMS(_ body: () -> Void) -> Double { timeStats(body).median }

    /// Median and minimum milliseconds per call (the minimum is the least disturbed by other processes).
    func timeStats(_ body: () -> Void) -> (median: Double, min: Double) {
        body()
        var times: [Double] = []
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 1e9)
        repeat {
            let t0 = DispatchTime.now().uptimeNanoseconds
            body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
        } while DispatchTime.now().uptimeNanoseconds < deadline || times.count < 5
        times.sort()
        return (times[times.count / 2], times[0])
    }

    func run() throws {
        var g = SeededGenerator(seed: 1)
        if onlyOp == "decode" {
            let ms = benchDecode(generator: &g)
            print(String(format: "| decode | %.3f ms/token | %.0f tokens/s |", ms, 1000 / ms))
            return
        }
        if onlyOp == "mlp" {
            let r = benchMLP(threads: BLAS.threadCount, generator: &g)
            print(String(format: "| mlp | step %.3f | fwd %.3f | bwd %.3f | adamw %.3f | raw %.3f | %.1f%% |", r.stepMS,
                         r.forwardMS, r.backwardMS, r.adamwMS, r.rawSgemmMS, r.overheadPercent))
            return
        }
        if let only = onlyOp {
            for row in benchOps(threads: BLAS.threadCount, generator: &g, only: only) {
                print(String(format: "| %@ | %@ | %d | %.3f | %.3f |", row.name, row.shape, row.threads, row.msMedian, row.msMin))
            }
            return
        }
        // MxKxN: A [M,K] times B [K,N]. Shapes from the models that will use them.
        let shapes: [(Int, Int, Int, String)] = [
            (4096, 64, 64, "GNN layer: 4096 nodes, 64 -> 64"),
            (60000, 64, 64, "GNN batch: 60k nodes, 64 -> 64"),
            (256, 192, 576, "VLM qkv: 256 tokens, 192 -> 576"),
            (3072, 192, 576, "VLM train qkv: 16x192 tokens"),
            (1, 192, 768, "VLM decode MLP: 1 token, 192 -> 768"),
            (1024, 1024, 1024, "1024^3 (peak reference)"),
        ]
        var gemm: [GemmRow] = []
        print("OpenBLAS kernels: \(BLAS.coreName) (detected at load: \(BLAS.detectedCoreName))\n")
        print("### sgemm (C = A B, A [M,K], B [K,N]; fastest of repeated calls, the least disturbed by other load)\n")
        print("| M x K x N | use | GFLOPS OpenBLAS 1 thread | GFLOPS OpenBLAS 2 threads | GFLOPS 1 thread + split over cores | ms 1 / 2 / split |")
        print("|---|---|---|---|---|---|")
        for (m, k, n, use) in shapes {
            let a = Tensor.randn([m, k], generator: &g), b = Tensor.randn([k, n], generator: &g)
            let c = Tensor.zeros([m, n])
            var ms = [0.0, 0.0, 0.0]
            for (slot, threads, split) in [(0, 1, false), (1, 2, false), (2, 1, true)] {
                BLAS.setThreadCount(threads)
                ms[slot] = timeStats {
                    BLAS.sgemm(split: split, m: m, n: n, k: k, a: a.data.baseAddress!, b: b.data.baseAddress!,
                               c: c.data.baseAddress!)
                }.min
            }
            let flop = 2.0 * Double(m) * Double(n) * Double(k)
            let row = GemmRow(shape: "\(m)x\(k)x\(n)", m: m, k: k, n: n, use: use,
                              gflops1: flop / ms[0] / 1e6, gflops2: flop / ms[1] / 1e6, gflopsSplit: flop / ms[2] / 1e6,
                              ms1: ms[0], ms2: ms[1], msSplit: ms[2])
            gemm.append(row)
            print(String(format: "| %@ | %@ | %.1f | %.1f | %.1f | %.4f / %.4f / %.4f |", row.shape, use, row.gflops1,
                         row.gflops2, row.gflopsSplit, ms[0], ms[1], ms[2]))
        }
        let peak = gemm.map { max($0.gflops1, $0.gflops2, $0.gflopsSplit) }.max() ?? 0
        print(String(format: "\nPeak measured in this run: %.1f GFLOPS.\n", peak))

        var mlps: [MLPResult] = []
        print("### MLP training step (batch 256, 784 -> 512 -> 10, ReLU, cross-entropy, AdamW)\n")
        print("Step and raw sgemm calls are timed alternately; ms are minima over the run (medians in the JSON).\n")
        print("| OpenBLAS threads (1 = with split over cores) | step ms | forward ms | backward ms | AdamW ms | raw sgemm ms (same 5 calls) | overhead |")
        print("|---|---|---|---|---|---|---|")
        for t in [1, 2] {
            BLAS.setThreadCount(t)
            let r = benchMLP(threads: t, generator: &g)
            mlps.append(r)
            print(String(format: "| %d | %.3f | %.3f | %.3f | %.3f | %.3f | %.1f%% |", t, r.stepMS, r.forwardMS,
                         r.backwardMS, r.adamwMS, r.rawSgemmMS, r.overheadPercent))
        }

        print("\n### Ops at model shapes (forward + backward, median ms)\n")
        print("| op | shape | OpenBLAS threads | median ms | min ms |")
        print("|---|---|---|---|---|")
        var ops: [OpRow] = []
        for t in [1, 2] {
            BLAS.setThreadCount(t)
            for row in benchOps(threads: t, generator: &g) {
                ops.append(row)
                print(String(format: "| %@ | %@ | %d | %.3f | %.3f |", row.name, row.shape, t, row.msMedian, row.msMin))
            }
        }
        BLAS.setThreadCount(BLAS.defaultThreadCount)
        let decode = benchDecode(generator: &g)
        print(String(format: "\nRaw-kernel decode step (VLM shapes: d 192, 4 layers, 4 heads, vocab 2000, 192 cached positions): "
                     + "%.3f ms per token = %.0f tokens/s (one sequence, OpenBLAS 1 thread)", decode, 1000 / decode))
        // Per-op bookkeeping cost: a recorded elementwise op on one element (allocation + graph node).
        let x = Tensor.parameter(.ones([1]))
        let tiny = timeMS { for _ in 0..<1000 { _ = x * x } } * 1000 / 1000
        print(String(format: "\nPer-op overhead (recorded `x * x` on one element): %.2f us\n", tiny))

        let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { $0.split(separator: ":", maxSplits: 1).last!.trimmingCharacters(in: .whitespaces) } ?? "unknown"
        let report = Report(machine: cpu, cores: ProcessInfo.processInfo.activeProcessorCount,
                            defaultBlasThreads: BLAS.defaultThreadCount, blasCore: BLAS.coreName,
                            blasDetectedCore: BLAS.detectedCoreName, gemm: gemm, peakGflops: peak,
                            mlp: mlps, ops: ops, tinyOpMicroseconds: tiny, decodeTokenMS: decode)
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        let dir = (out as NSString).deletingLastPathComponent
        if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        try enc.encode(report).write(to: URL(fileURLWithPath: out))
        print("wrote \(out) (machine: \(cpu), \(report.cores) cores)")
    }

    /// One training step of a 2-layer MLP through the autodiff API, against the 5 raw sgemm calls it makes.
    func benchMLP(threads: Int, generator g: inout SeededGenerator) -> MLPResult {
        let (batch, input, hidden, classes) = (256, 784, 512, 10)
        let mlp = MLP([input, hidden, classes], activation: .relu, generator: &g)
        let opt = AdamW(parameters: mlp.parameters(), learningRate: 1e-3)
        let x = Tensor.randn([batch, input], generator: &g)
        let y = (0..<batch).map { _ in g.int(below: classes) }
        var fwd: [Double] = [], bwd: [Double] = [], adam: [Double] = [], steps: [Double] = [], raws: [Double] = []
        func step() {
            let t0 = DispatchTime.now().uptimeNanoseconds
            // Gradients are zeroed by the previous step's AdamW pass (step(zeroingGradients:)).
            let loss = Tensor.crossEntropy(logits: mlp(x), targets: y)
            let t1 = DispatchTime.now().uptimeNanoseconds
            loss.backward()
            let t2 = DispatchTime.now().uptimeNanoseconds
            opt.step(zeroingGradients: true)
            let t3 = DispatchTime.now().uptimeNanoseconds
            fwd.append(Double(t1 - t0) / 1e6); bwd.append(Double(t2 - t1) / 1e6); adam.append(Double(t3 - t2) / 1e6)
            steps.append(Double(t3 - t0) / 1e6)
        }
        // The same matmuls on raw buffers: 2 forward, dW2, dH, dW1 (the input needs no gradient).
        let w1 = mlp.layers[0].weight.data.baseAddress!, w2 = mlp.layers[1].weight.data.baseAddress!
        let h = UnsafeMutablePointer<Float>.allocate(capacity: batch * hidden); defer { h.deallocate() }
        let dh = UnsafeMutablePointer<Float>.allocate(capacity: batch * hidden); defer { dh.deallocate() }
        let o = UnsafeMutablePointer<Float>.allocate(capacity: batch * classes); defer { o.deallocate() }
        let gw1 = UnsafeMutablePointer<Float>.allocate(capacity: hidden * input); defer { gw1.deallocate() }
        let gw2 = UnsafeMutablePointer<Float>.allocate(capacity: classes * hidden); defer { gw2.deallocate() }
        h.initialize(repeating: 0.5, count: batch * hidden); o.initialize(repeating: 0.1, count: batch * classes)
        gw1.initialize(repeating: 0, count: hidden * input); gw2.initialize(repeating: 0, count: classes * hidden)
        let X = x.data.baseAddress!
        func raw() {
            let t0 = DispatchTime.now().uptimeNanoseconds
            BLAS.sgemm(transB: true, m: batch, n: hidden, k: input, a: X, b: w1, c: h)
            BLAS.sgemm(transB: true, m: batch, n: classes, k: hidden, a: h, b: w2, c: o)
            BLAS.sgemm(transA: true, m: classes, n: hidden, k: batch, a: o, b: h, beta: 1, c: gw2)
            BLAS.sgemm(m: batch, n: hidden, k: classes, a: o, b: w2, c: dh)
            BLAS.sgemm(transA: true, m: hidden, n: input, k: batch, a: dh, b: X, beta: 1, c: gw1)
            raws.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
        }
        // Interleave the two so that both see the same background load; compare minima (least disturbed).
        step(); raw()
        fwd = []; bwd = []; adam = []; steps = []; raws = []
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(2 * seconds * 1e9)
        repeat { step(); raw() } while DispatchTime.now().uptimeNanoseconds < deadline || steps.count < 10
        let stepMS = steps.min()!, rawMS = raws.min()!
        func median(_ v: [Double]) -> Double { v.sorted()[v.count / 2] }
        return MLPResult(batch: batch, input: input, hidden: hidden, classes: classes, blasThreads: threads,
                         stepMS: stepMS, rawSgemmMS: rawMS, overheadPercent: (stepMS / rawMS - 1) * 100,
                         forwardMS: fwd.min()!, backwardMS: bwd.min()!, adamwMS: adam.min()!,
                         stepMedianMS: median(steps), rawSgemmMedianMS: median(raws))
    }

    /// One token of a KV-cached GPT-style decoder on raw buffers with the public kernels (what the VLM's
    /// generator will do): per layer LayerNorm, qkv gemv, cached attention, projection, LayerNorm, MLP with
    /// GELU; then the final LayerNorm and the tied vocabulary head. Random weights; cost does not depend on them.
    func benchDecode(generator g: inout SeededGenerator) -> Double {
        let (d, layers, heads, vocab, ctx) = (192, 4, 4, 2000, 192)
        func buf(_ n: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: n)
            for i in 0..<n { p[i] = Float(g.normal()) * 0.02 }
            return p
        }
        let wqkv = (0..<layers).map { _ in buf(3 * d * d) }, wproj = (0..<layers).map { _ in buf(d * d) }
        let wfc = (0..<layers).map { _ in buf(4 * d * d) }, wfc2 = (0..<layers).map { _ in buf(4 * d * d) }
        let cache = (0..<layers).map { _ in buf(ctx * 3 * d) }  // rows of [q | k | v], as causalSelfAttention
        let wte = buf(vocab * d), gamma = buf(d), beta = buf(d)
        let x = buf(d), h = buf(d), att = buf(d), mlpH = buf(4 * d), logits = buf(vocab), scratch = buf(ctx)
        defer { for p in wqkv + wproj + wfc + wfc2 + cache + [wte, gamma, beta, x, h, att, mlpH, logits, scratch] { p.deallocate() } }
        let pos = ctx - 1
        return timeMS {
            for l in 0..<layers {
                Kernels.layerNormRows(x, h, gamma: gamma, beta: beta, rows: 1, cols: d)
                let row = cache[l] + pos * 3 * d
                BLAS.sgemv(m: 3 * d, n: d, a: wqkv[l], x: h, y: row)  // new token's q, k, v into the cache
                Kernels.cachedAttention(query: row, keys: cache[l] + d, values: cache[l] + 2 * d, rowStride: 3 * d,
                                        positions: pos + 1, heads: heads, headDim: d / heads, out: att, scratch: scratch)
                BLAS.sgemv(m: d, n: d, a: wproj[l], x: att, beta: 1, y: x)  // residual add through beta
                Kernels.layerNormRows(x, h, gamma: gamma, beta: beta, rows: 1, cols: d)
                BLAS.sgemv(m: 4 * d, n: d, a: wfc[l], x: h, y: mlpH)
                Kernels.gelu(mlpH, mlpH, count: 4 * d)
                BLAS.sgemv(m: d, n: 4 * d, a: wfc2[l], x: mlpH, beta: 1, y: x)
            }
            Kernels.layerNormRows(x, h, gamma: gamma, beta: beta, rows: 1, cols: d)
            BLAS.sgemv(m: vocab, n: d, a: wte, x: h, y: logits)
            _ = Kernels.argmax(logits, count: vocab)
        }
    }

    /// Forward + backward of the ops the two models are built from, at their real sizes.
    func benchOps(threads: Int, generator g: inout SeededGenerator, only: String? = nil) -> [OpRow] {
        var rows: [OpRow] = []
        func add(_ name: String, _ shape: String, _ body: () -> Void) {
            if let o = only, !name.contains(o) { return }
            let t = timeStats(body)
            rows.append(OpRow(name: name, shape: shape, threads: threads, msMedian: t.median, msMin: t.min))
        }
        // GNN: 60k nodes, 64 features, 4 edges per node.
        let nodes = 60_000, edges = 240_000, d = 64
        let xs = Tensor.randn([nodes, d], generator: &g, requiresGrad: true)
        let w = Tensor.parameter(.randn([d, d], std: 0.1, generator: &g)), b = Tensor.parameter(.zeros([d]))
        // Edges stay inside their graph (a disjoint union of 30 graphs of 2,000 nodes), as in a real batch.
        var src: [Int] = [], dst: [Int] = []
        for e in 0..<edges {
            let graph = (e * 30) / edges
            src.append(graph * 2000 + g.int(below: 2000)); dst.append(graph * 2000 + g.int(below: 2000))
        }
        add("linear", "[60000,64] x [64,64]^T") { Tensor.linear(xs, weight: w, bias: b).sum().backward() }
        add("gather + scatterMean", "240k edges, 64 feats") { xs.gatherRows(src).scatterMean(dst, rows: nodes).sum().backward() }
        let mask = Tensor.ones([edges], requiresGrad: true)
        add("aggregateNeighbors mean (fused), edge mask", "240k edges, 64 feats") {
            Tensor.aggregateNeighbors(xs, source: src, target: dst, rows: nodes, edgeWeight: mask, reduce: .mean).sum().backward()
        }
        add("scatterMax", "240k edges, 64 feats") { xs.gatherRows(src).scatterMax(dst, rows: nodes).sum().backward() }
        let bn = BatchNorm(d)
        add("batchNorm + elu", "[60000,64]") { bn(xs).elu().sum().backward() }
        // VLM training: batch 16, 192 tokens, d_model 192, 4 heads, vocab 2000.
        let qkv = Tensor.randn([16, 192, 576], generator: &g, requiresGrad: true)
        add("causalSelfAttention", "B16 T192 C192 H4") { Tensor.causalSelfAttention(qkv, heads: 4).sum().backward() }
        let hTok = Tensor.randn([16 * 192, 192], generator: &g, requiresGrad: true)
        let wte = Tensor.parameter(.randn([2000, 192], std: 0.02, generator: &g))
        let targets = (0..<(16 * 192)).map { _ in g.int(below: 2000) }
        add("tied lm head + CE", "[3072,192] x [2000,192]^T") {
            Tensor.crossEntropy(logits: Tensor.matmul(hTok, wte, transposeB: true), targets: targets).backward()
        }
        let ln = LayerNorm(192)
        add("layerNorm + gelu", "[3072,192]") { ln(hTok).gelu().sum().backward() }
        return rows
    }
}
