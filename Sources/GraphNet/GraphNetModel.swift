import Common
import Foundation
import Tensors

/// How a forward pass behaves.
public enum ForwardMode: Sendable, Equatable {
    /// No dropout; deterministic; mutates nothing (safe on several threads at once).
    case inference
    /// Dropout on, with masks drawn from this seed (a training step passes a per-step seed, so a run is
    /// reproducible).
    case training(dropoutSeed: UInt64)
}

/// The heterogeneous GNN that stages DR from the vessel graph.
///
/// Per-type linear encoders of the z-scored features -> `layers` layers of typed SAGE-style message passing
/// h'_i = h_i + act(LayerNorm(W_self h_i + b + sum_r W_r mean_{j in N_r(i)} m_j h_j))
/// over the eight message channels of `GraphSchema.channels` (m_j = edge mask, 1 for the real graph) ->
/// per-type mean and max pooling (or mean and log-mean-exp, `GraphReadout`) (+ encoded global biomarkers)
/// -> MLP -> class logits.
///
/// LayerNorm rather than BatchNorm: it has no train/eval difference and no running state, so inference
/// and integrated gradients see exactly the function that was trained, a batch of one graph is fine, and
/// concurrent inference mutates nothing.
///
/// Thread safety: after training, the model is read-only; `forward(_:edgeMasks:mode: .inference)` and
/// `predict` may run on several threads at once (each thread sets its own grad mode).
public final class GraphNetModel: Module, @unchecked Sendable {
    /// The architecture.
    public let config: GraphNetConfig
    let encoders: NamedModules
    let encoderList: [Linear]
    let globalEncoder: Linear?
    let layerUpdates: [[TypeUpdate]]
    let layerModules: ModuleList<NamedModules>
    let head: MLP

    /// A freshly initialised model (weights from `seed`).
    /// - Throws: `GraphNetError.invalidOption` if the config is invalid.
    public init(config: GraphNetConfig, seed: UInt64 = 0) throws {
        try config.validate()
        self.config = config
        var rng = SeededGenerator(seed: seed, stream: 0x6E4E)
        let h = config.hidden
        let encs = NodeType.allCases.map { Linear(config.nodeFeatureCounts[$0.rawValue], h, generator: &rng) }
        encoderList = encs
        encoders = NamedModules(NodeType.allCases.map { ($0.name, encs[$0.rawValue] as Module) })
        globalEncoder = config.useGlobalFeatures ? Linear(config.globalFeatureCount, h, generator: &rng) : nil
        var ups: [[TypeUpdate]] = []
        for _ in 0..<config.layers {
            ups.append(NodeType.allCases.map { TypeUpdate(channelNames: GraphSchema.incoming($0).map(\.name), hidden: h, generator: &rng) })
        }
        layerUpdates = ups
        layerModules = ModuleList(ups.map { u in NamedModules(NodeType.allCases.map { ($0.name, u[$0.rawValue] as Module) }) })
        let pooled = 2 * NodeType.allCases.count * h + (config.useGlobalFeatures ? h : 0)
        head = MLP([pooled, h, config.classCount], activation: config.activation, generator: &rng)
    }

    public var localParameters: [(String, Tensor)] { [] }
    public var children: [(String, Module)] {
        var c: [(String, Module)] = [("encoders", encoders)]
        if let g = globalEncoder { c.append(("global_encoder", g)) }
        c.append(("layers", layerModules))
        c.append(("head", head))
        return c
    }

    /// Class logits [graphCount, classCount] of a batch.
    ///
    /// - Parameters:
    ///   - batch: the disjoint union of the graphs; its feature tensors may `requiresGrad` (input gradients).
    ///   - edgeMasks: nil for the real graph, or one tensor per stored relation (`GraphSchema.relations`
    ///     order) of shape [E_r] whose values multiply every message along that edge in both directions
    ///     (all ones = the real graph, zeros = edges removed); may `requiresGrad` (edge attributions).
    ///   - mode: `.inference` (no dropout, read-only) or `.training(dropoutSeed:)`.
    /// Whether a graph is recorded follows the calling thread's grad mode (`Tensor.withoutGrad`,
    /// `Tensor.withFrozenParameters`). Traps only on programmer errors (masks of the wrong length).
    public func forward(_ batch: GraphBatch, edgeMasks: [Tensor]? = nil, mode: ForwardMode = .inference) -> Tensor {
        let h = config.hidden, act = config.activation
        var training = false, rng = SeededGenerator(seed: 0)
        if case .training(let seed) = mode { training = true; rng = SeededGenerator(seed: seed, stream: 0xD0) }
        if let m = edgeMasks {
            precondition(m.count == GraphSchema.relations.count, "GraphNetModel.forward: need \(GraphSchema.relations.count) edge masks, got \(m.count)")
            for r in 0..<m.count {
                precondition(m[r].count == batch.edgeCount(r), Tensor.shapeMismatchMessage("edge mask \(GraphSchema.relations[r].name)", m[r].shape, [batch.edgeCount(r)]))
            }
        }
        let counts = NodeType.allCases.map { batch.nodeCount($0) }
        // Node states per type; nil for a type with no nodes in the whole batch (zero-row matrix products
        // are avoided, and its pooled vectors are zeros).
        var states: [Tensor?] = NodeType.allCases.map { t in
            guard counts[t.rawValue] > 0 else { return nil }
            let enc = encoderList[t.rawValue]
            return Self.encode(batch.features[t.rawValue], enc, act)
        }
        for layer in layerUpdates {
            var next = states
            for t in NodeType.allCases {
                guard let own = states[t.rawValue] else { continue }
                let u = layer[t.rawValue]
                // Root term and every relation's mean message in one op (Tensor.relationalLinear inside
                // Tensor.residualMessageLayer): no per-relation [N, H] products or sums.
                var messages: [NeighborMessages] = []
                for (k, ch) in GraphSchema.incoming(t).enumerated() {
                    // A channel without edges (or whose source type is absent) contributes exactly 0.
                    guard let from = states[ch.from.rawValue], batch.edgeCount(ch.relation) > 0 else { continue }
                    messages.append(NeighborMessages(x: from, weight: u.channels[k].weight, edges: batch.edgeIndex(ch),
                                                     edgeWeight: edgeMasks?[ch.relation], reduce: .mean))
                }
                // own + act(LayerNorm(sum)) with the sum, the LayerNorm and the activation fused per tile of
                // rows when no parameter needs a gradient (inference, integrated gradients); in training the
                // same two ops as before (relationalLinear, residualLayerNorm) run unchanged.
                next[t.rawValue] = Tensor.residualMessageLayer(own, weight: u.root.weight, bias: u.root.bias, messages: messages,
                                                               gamma: u.norm.weight, beta: u.norm.bias, eps: u.norm.eps, activation: act)
            }
            states = next
        }
        var pooled: [Tensor] = []
        for t in NodeType.allCases {
            if let s = states[t.rawValue] {
                pooled.append(s.segmentMean(batch.batch[t.rawValue], segments: batch.graphCount))
                switch config.readout {
                case .meanMax: pooled.append(s.segmentMax(batch.batch[t.rawValue], segments: batch.graphCount))
                case .meanLogMeanExp:
                    pooled.append(s.segmentLogMeanExp(batch.batch[t.rawValue], segments: batch.graphCount, sharpness: config.readoutSharpness))
                }
            } else {
                pooled.append(Tensor.zeros([batch.graphCount, h])); pooled.append(Tensor.zeros([batch.graphCount, h]))
            }
        }
        if let g = globalEncoder { pooled.append(Self.encode(batch.globalFeatures, g, act)) }
        let x = Tensor.concat(pooled, axis: 1).dropout(p: config.dropout, training: training, generator: &rng)
        return head(x)
    }

    /// act(x W^T + b) of an encoder (SiLU, the default, is Tensors' vectorised `linearSiLU`).
    static func encode(_ x: Tensor, _ layer: Linear, _ act: Activation) -> Tensor {
        Tensor.linear(x, weight: layer.weight, bias: layer.bias, activation: act)
    }
}
