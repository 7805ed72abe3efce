import Common
import Dispatch
import Foundation
import GraphNet
import Tensors
import VesselGraph

/// Settings of one integrated-gradients run.
public struct IntegratedGradientsOptions: Sendable, Equatable {
    /// Class whose logit is explained; nil = the predicted class.
    public var targetClass: Int?
    /// Number of quadrature points (Captum's n_steps). Default 50.
    public var steps: Int = 50
    /// Quadrature rule. Default Gauss-Legendre.
    public var quadrature: Quadrature = .gaussLegendre
    /// Reference input. Default: training mean (z = 0).
    public var baseline: AttributionBaseline = .trainingMean
    /// Also integrate along per-edge masks 0 -> 1 (edge attributions for every relation). When false the
    /// masks stay at 1 (the real graph) along the whole path and `edgeScores` are empty.
    public var attributeEdges: Bool = true
    /// Also interpolate the global biomarkers the head reads (their attributions are reported separately).
    /// When false they stay at their real values along the path.
    public var attributeGlobals: Bool = true
    /// Steps per forward/backward pass (copies in one disjoint-union batch); nil (default) = the steps split
    /// evenly over `concurrentPasses`, i.e. ONE batched pass per core (all steps in one pass when that is 1).
    /// Smaller unions stay in the core's L2 cache and were faster on this project's machine (2 copies per
    /// pass: 260 CPU ms against 339 for 2 x 25 on the peer shapes, docs/BENCHMARKS.md, Attribution), and
    /// bound memory on very large graphs (about 0.9 MB per 1,000 nodes per step at hidden width 64).
    public var stepsPerPass: Int?
    /// Batched passes run at the same time, each on its own core with single-threaded kernels; nil (default)
    /// = one per core (`Parallel.threadCount`). 1 = one pass at a time, each op spread over the cores.
    /// Independent passes need no per-op thread hand-offs and keep each core's tensors in its own cache,
    /// which on 2 cores is faster than splitting every op (docs/BENCHMARKS.md, Attribution).
    public var concurrentPasses: Int?

    /// The defaults (predicted class, 50 Gauss-Legendre steps, training-mean baseline, edges and globals on).
    public init() {}
}

/// Integrated gradients (Sundararajan et al. 2017) of one class logit of a graph classifier with respect to
/// every node feature of every node type, every per-edge mask of every relation and the global biomarkers:
///
///   attr_i = (x_i - x'_i) * integral_0^1 dF(x' + alpha (x - x')) / dx_i d alpha
///
/// along the straight path from the baseline x' (features at the baseline, edge masks 0) to the input x
/// (masks 1), by quadrature. All quadrature points run as ONE batched forward/backward: the batch is the
/// disjoint union of `steps` copies of the graph, copy s holding x' + alpha_s (x - x'), and the backward is
/// seeded with the target column of every copy's logits, so copy s's input gradient is dF/dx at alpha_s
/// (copies do not interact). Completeness: sum of all attributions = F(x) - F(x') up to the quadrature
/// error (`GraphAttribution.convergenceDelta`).
///
/// Parameters are treated as constants (`Tensor.withFrozenParameters`), so a shared, loaded model may be
/// explained on several threads at once.
public struct IntegratedGradients {
    /// The explained model.
    public let model: AttributableModel

    /// An explainer for `model`.
    public init(model: AttributableModel) { self.model = model }

    /// Attributions of `graph` (explained class per `options.targetClass`).
    /// - Throws: `AttributionError.invalidOption` (steps, class, stepsPerPass), `.badBaseline`,
    ///   `.nothingToAttribute`, `.nonFinite`; `GraphNetError.featureMismatch` for a graph of other columns.
    public func attribute(_ graph: OCTAGraph, options: IntegratedGradientsOptions = IntegratedGradientsOptions()) throws -> GraphAttribution {
        let raw = try attributeRaw(graph, options: options, batched: true)
        return GraphAttribution(raw, classNames: model.classNames, normalizer: model.normalizer, options: options)
    }

    /// The same attributions computed one quadrature point at a time (one single-graph forward/backward per
    /// step): the reference the batched implementation is tested against, and the benchmark's comparison.
    /// - Throws: as `attribute`.
    public func attributeStepByStep(_ graph: OCTAGraph, options: IntegratedGradientsOptions = IntegratedGradientsOptions()) throws -> GraphAttribution {
        let raw = try attributeRaw(graph, options: options, batched: false)
        return GraphAttribution(raw, classNames: model.classNames, normalizer: model.normalizer, options: options)
    }

    /// Attributions as flat arrays (what `GraphAttribution` is built from).
    func attributeRaw(_ graph: OCTAGraph, options: IntegratedGradientsOptions, batched: Bool) throws -> RawAttribution {
        let rule = try QuadratureRule(options.quadrature, steps: options.steps)
        if let p = options.stepsPerPass, p < 1 {
            throw AttributionError.invalidOption(name: "steps-per-pass", reason: "must be at least 1, got \(p)")
        }
        if let p = options.concurrentPasses, p < 1 || p > 256 {
            throw AttributionError.invalidOption(name: "concurrent-passes", reason: "must be 1...256, got \(p)")
        }
        // The graph is batched (and normalised) once; every union below is a copy of it.
        let single = try model.makeBatch([graph])
        let layout = batched ? PassLayout(steps: rule.alphas.count, options: options) : nil
        // The union of copies the batched passes share is built while the end points are evaluated (both
        // would otherwise be serial time before the concurrent passes).
        var found: PathEnds?, template: GraphBatch?, endsError: Error?
        if let layout, Parallel.threadCount > 1 {
            DispatchQueue.concurrentPerform(iterations: 2) { i in
                if i == 0 {
                    do { found = try endpoints(single, options: options) } catch { endsError = error }
                } else {
                    template = single.repeated(layout.chunk)
                }
            }
            if let endsError { throw endsError }
        } else {
            found = try endpoints(single, options: options)
            if let layout { template = single.repeated(layout.chunk) }
        }
        let ends = found!
        let target = options.targetClass ?? ends.predicted
        guard target >= 0 && target < model.classNames.count else {
            throw AttributionError.invalidOption(name: "class", reason: "class index \(options.targetClass ?? -1) is outside 0..<\(model.classNames.count) (\(model.classNames.joined(separator: ", ")))")
        }
        let grads: PathGradients
        if batched {
            grads = try integrateBatched(template!, layout: layout!, ends: ends, rule: rule, target: target, options: options)
        } else {
            grads = try integrateStepByStep(single, ends: ends, rule: rule, target: target, options: options)
        }
        var nodeAttr: [[Float]] = []
        for t in NodeType.allCases {
            let x = ends.input.node[t.rawValue], b = ends.baseline.node[t.rawValue], g = grads.node[t.rawValue]
            nodeAttr.append((0..<x.count).map { Float(Double(x[$0] - b[$0]) * g[$0]) })
        }
        let edgeAttr = options.attributeEdges ? grads.edge.map { $0.map { Float($0) } } : GraphSchema.relations.map { _ in [Float]() }
        let globalAttr: [Float] = options.attributeGlobals
            ? (0..<ends.input.global.count).map { Float(Double(ends.input.global[$0] - ends.baseline.global[$0]) * grads.global[$0]) } : []
        let all = nodeAttr.joined().map(Double.init) + edgeAttr.joined().map(Double.init) + globalAttr.map(Double.init)
        guard all.allSatisfy(\.isFinite) else { throw AttributionError.nonFinite(what: "the integrated gradients") }
        return RawAttribution(target: target, predicted: ends.predicted, logits: ends.logitsAtInput,
                              targetLogit: ends.logitsAtInput[target], baselineLogit: ends.logitsAtBaseline[target],
                              node: nodeAttr, nodeCounts: ends.nodeCounts, edge: edgeAttr, global: globalAttr,
                              steps: options.steps, quadrature: options.quadrature, baselineName: options.baseline.name)
    }

    // MARK: - Path end points

    /// z-scored inputs (node features per type, globals) at one end of the path.
    struct InputPoint {
        var node: [[Float]]
        var global: [Float]
    }

    /// Input, baseline and the logits at both (one no-grad forward of a 2-copy batch).
    struct PathEnds {
        var input: InputPoint
        var baseline: InputPoint
        var nodeCounts: [Int]
        var widths: [Int]
        var edgeCounts: [Int]
        var logitsAtInput: [Double]
        var logitsAtBaseline: [Double]
        var predicted: Int
    }

    func endpoints(_ single: GraphBatch, options: IntegratedGradientsOptions) throws -> PathEnds {
        var pair = single.repeated(2)
        let counts = NodeType.allCases.map { pair.nodeCount($0) / 2 }
        let widths = NodeType.allCases.map { pair.features[$0.rawValue].shape[1] }
        let edgeCounts = (0..<GraphSchema.relations.count).map { pair.edgeCount($0) / 2 }
        if counts.allSatisfy({ $0 == 0 }) && !options.attributeGlobals {
            throw AttributionError.nothingToAttribute(reason: "the graph has no nodes and --no-globals was given")
        }
        let gw = pair.globalFeatures.shape[1]
        let input = InputPoint(node: NodeType.allCases.map { Array(pair.features[$0.rawValue].data.prefix(counts[$0.rawValue] * widths[$0.rawValue])) },
                               global: Array(pair.globalFeatures.data.prefix(gw)))
        var base: InputPoint
        switch options.baseline {
        case .trainingMean:
            base = InputPoint(node: NodeType.allCases.map { [Float](repeating: 0, count: counts[$0.rawValue] * widths[$0.rawValue]) },
                              global: [Float](repeating: 0, count: gw))
        case .zScored(let b):
            base = InputPoint(node: try NodeType.allCases.map { try b.expanded($0, nodes: counts[$0.rawValue], width: widths[$0.rawValue]) },
                              global: try b.expandedGlobal(width: gw))
        }
        if !options.attributeGlobals { base.global = input.global }
        for t in NodeType.allCases { pair.features[t.rawValue] = Tensor(input.node[t.rawValue] + base.node[t.rawValue], shape: [2 * counts[t.rawValue], widths[t.rawValue]]) }
        pair.globalFeatures = Tensor(input.global + base.global, shape: [2, gw])
        let masks: [Tensor]? = options.attributeEdges
            ? edgeCounts.map { Tensor([Float](repeating: 1, count: $0) + [Float](repeating: 0, count: $0), shape: [2 * $0]) } : nil
        let out: Tensor = Tensor.withoutGrad { model.logits(pair, edgeMasks: masks) }
        let logits: [Double] = out.array.map { Double($0) }
        guard logits.allSatisfy({ $0.isFinite }) else { throw AttributionError.nonFinite(what: "the model's logits") }
        let c = model.classNames.count
        let atInput = Array(logits[0..<c]), atBase = Array(logits[c..<(2 * c)])
        let predicted = atInput.indices.max { atInput[$0] < atInput[$1] }!
        return PathEnds(input: input, baseline: base, nodeCounts: counts, widths: widths, edgeCounts: edgeCounts,
                        logitsAtInput: atInput, logitsAtBaseline: atBase, predicted: predicted)
    }

    // MARK: - Integration

    /// Sum over quadrature points of w_s * dF/d(input) at alpha_s, per input (node features per type, edge
    /// masks per relation, globals), in Double.
    struct PathGradients {
        var node: [[Double]]
        var edge: [[Double]]
        var global: [Double]
    }

    /// The steps as copies in disjoint-union batches: `stepsPerPass` copies per pass (default: the steps
    /// split evenly over `concurrentPasses`), passes running `concurrentPasses` at a time on their own
    /// threads. Each worker sums its own passes; the sums are added in worker order (deterministic).
    /// How the quadrature points are split into batched passes.
    struct PassLayout {
        /// Copies per pass (a short last pass is padded with weight-0 copies).
        var chunk: Int
        /// The points of each pass.
        var passes: [Range<Int>]
        /// Passes running at the same time.
        var workers: Int

        init(steps n: Int, options: IntegratedGradientsOptions) {
            let workersWanted = options.concurrentPasses ?? Parallel.threadCount
            chunk = min(options.stepsPerPass ?? (n + workersWanted - 1) / workersWanted, n)
            let c = chunk
            passes = stride(from: 0, to: n, by: c).map { $0..<min($0 + c, n) }
            workers = min(workersWanted, passes.count)
        }
    }

    /// `template` is one union of `layout.chunk` copies, built once from the normalised single graph and
    /// shared read-only by every pass (each pass only replaces its leaves).
    func integrateBatched(_ template: GraphBatch, layout: PassLayout, ends: PathEnds, rule: QuadratureRule, target: Int,
                          options: IntegratedGradientsOptions) throws -> PathGradients {
        let chunk = layout.chunk, passes = layout.passes, workers = layout.workers
        var results = [Result<PathGradients, Error>?](repeating: nil, count: workers)
        let run: (Int) -> Result<PathGradients, Error> = { w in
            Result {
                var acc = self.zeroGradients(ends)
                for p in stride(from: w, to: passes.count, by: workers) {
                    let r = passes[p], pad = chunk - r.count
                    let alphas = Array(rule.alphas[r]) + [Double](repeating: 0, count: pad)
                    let weights = Array(rule.weights[r]) + [Double](repeating: 0, count: pad)
                    try self.pass(template, ends: ends, alphas: alphas, weights: weights, target: target, options: options, into: &acc)
                }
                return acc
            }
        }
        if workers == 1 {
            results[0] = run(0)
        } else {
            // Kernels called inside a concurrentPerform worker run on that worker (libdispatch gives a nested
            // apply the threads left over, here none), so each pass is single-threaded on its own core.
            results.withUnsafeMutableBufferPointer { out in
                let slots = out.baseAddress!
                DispatchQueue.concurrentPerform(iterations: workers) { w in slots[w] = run(w) }
            }
        }
        var total = zeroGradients(ends)
        for r in results {
            let g = try r!.get()
            for t in total.node.indices { for i in total.node[t].indices { total.node[t][i] += g.node[t][i] } }
            for e in total.edge.indices { for i in total.edge[e].indices { total.edge[e][i] += g.edge[e][i] } }
            for j in total.global.indices { total.global[j] += g.global[j] }
        }
        return total
    }

    /// Zero sums, shaped like the inputs.
    func zeroGradients(_ ends: PathEnds) -> PathGradients {
        PathGradients(node: ends.nodeCounts.indices.map { [Double](repeating: 0, count: ends.nodeCounts[$0] * ends.widths[$0]) },
                      edge: ends.edgeCounts.map { [Double](repeating: 0, count: $0) },
                      global: [Double](repeating: 0, count: ends.input.global.count))
    }

    /// One single-graph forward/backward per step (the reference).
    func integrateStepByStep(_ single: GraphBatch, ends: PathEnds, rule: QuadratureRule, target: Int,
                             options: IntegratedGradientsOptions) throws -> PathGradients {
        var acc = zeroGradients(ends)
        for s in rule.alphas.indices {
            try pass(single, ends: ends, alphas: [rule.alphas[s]], weights: [rule.weights[s]], target: target, options: options, into: &acc)
        }
        return acc
    }

    /// Forward/backward of `template` (a union of `alphas.count` copies of the graph) with copy s at
    /// alpha_s; adds w_s * gradient of copy s into `acc`.
    func pass(_ template: GraphBatch, ends: PathEnds, alphas: [Double], weights: [Double], target: Int,
              options: IntegratedGradientsOptions, into acc: inout PathGradients) throws {
        let copies = alphas.count
        var batch = template
        var leaves: [Tensor] = []
        for t in NodeType.allCases {
            let x = ends.input.node[t.rawValue], b = ends.baseline.node[t.rawValue], m = x.count
            let leaf = Tensor.zeros([copies * ends.nodeCounts[t.rawValue], ends.widths[t.rawValue]], requiresGrad: true)
            let d = leaf.data
            for s in 0..<copies {
                let a = Float(alphas[s]), o = s * m
                for i in 0..<m { d[o + i] = b[i] + a * (x[i] - b[i]) }
            }
            batch.features[t.rawValue] = leaf
            leaves.append(leaf)
        }
        let gx = ends.input.global, gb = ends.baseline.global, gw = gx.count
        let globalLeaf = Tensor.zeros([copies, gw], requiresGrad: options.attributeGlobals)
        for s in 0..<copies { for j in 0..<gw { globalLeaf.data[s * gw + j] = gb[j] + Float(alphas[s]) * (gx[j] - gb[j]) } }
        batch.globalFeatures = globalLeaf
        var masks: [Tensor]?
        if options.attributeEdges {
            masks = ends.edgeCounts.map { e in
                let mask = Tensor.zeros([copies * e], requiresGrad: true)
                for s in 0..<copies { for k in 0..<e { mask.data[s * e + k] = Float(alphas[s]) } }
                return mask
            }
        }
        let c = model.classNames.count
        try Tensor.withFrozenParameters {
            let out = model.logits(batch, edgeMasks: masks)
            guard out.hasGraph else {
                throw AttributionError.nothingToAttribute(reason: "the target logit does not depend on any attributed input")
            }
            var seed = [Float](repeating: 0, count: copies * c)
            for s in 0..<copies { seed[s * c + target] = 1 }
            out.backward(seed: seed)
        }
        for t in NodeType.allCases {
            guard let g = leaves[t.rawValue].grad else { continue }
            let m = ends.input.node[t.rawValue].count
            acc.node[t.rawValue].withUnsafeMutableBufferPointer { a in
                for s in 0..<copies where weights[s] != 0 {
                    let w = weights[s], o = s * m
                    for i in 0..<m { a[i] += w * Double(g[o + i]) }
                }
            }
        }
        if let masks {
            for r in masks.indices {
                guard let g = masks[r].grad else { continue }
                let e = ends.edgeCounts[r]
                for s in 0..<copies where weights[s] != 0 { for k in 0..<e { acc.edge[r][k] += weights[s] * Double(g[s * e + k]) } }
            }
        }
        if options.attributeGlobals, let g = globalLeaf.grad {
            for s in 0..<copies where weights[s] != 0 { for j in 0..<gw { acc.global[j] += weights[s] * Double(g[s * gw + j]) } }
        }
    }
}

/// Flat attributions of one graph before naming (node[t] row-major N_t x F_t).
struct RawAttribution {
    var target: Int
    var predicted: Int
    var logits: [Double]
    var targetLogit: Double
    var baselineLogit: Double
    var node: [[Float]]
    var nodeCounts: [Int]
    var edge: [[Float]]
    var global: [Float]
    var steps: Int
    var quadrature: Quadrature
    var baselineName: String
}
