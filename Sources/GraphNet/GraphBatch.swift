import Tensors
import VesselGraph

/// A mini-batch of graphs as one disjoint-union graph: the nodes of graph b follow those of graph b-1 in
/// each type's feature tensor, edge indices are shifted accordingly, and `batch[t][i]` says which graph
/// node i of type t belongs to. A forward pass over a batch is a few large matrix products and scatters,
/// never a loop over graphs.
///
/// Features are z-scored by the model's `FeatureNormalizer` (so the all-zero input is the training mean,
/// integrated gradients' baseline). Set `features[t].requiresGrad = true` (or `globalFeatures`) to get
/// gradients with respect to the inputs.
public struct GraphBatch: @unchecked Sendable {
    /// Number of graphs.
    public let graphCount: Int
    /// Normalised node features per type (`NodeType` order), [N_t, F_t].
    public var features: [Tensor]
    /// Normalised global biomarkers, [graphCount, G].
    public var globalFeatures: Tensor
    /// Graph index of every node, per type.
    public let batch: [[Int]]
    /// First node of each graph per type: nodes of graph b are `nodeOffsets[t][b] ..< nodeOffsets[t][b + 1]`.
    public let nodeOffsets: [[Int]]
    /// Edge sources per stored relation (`GraphSchema.relations` order), as union-graph node indices.
    public let sources: [[Int]]
    /// Edge targets per stored relation.
    public let targets: [[Int]]
    /// First edge of each graph per relation: edges of graph b are `edgeOffsets[r][b] ..< edgeOffsets[r][b + 1]`.
    public let edgeOffsets: [[Int]]

    /// Each relation's edges sorted both ways for message passing (`GraphSchema.relations` order), built
    /// once per batch and shared by every layer and by the backward pass.
    let edgeIndexes: [EdgeIndex]

    /// The edges messages of `channel` travel along (the relation, reversed for a `.rev` channel).
    func edgeIndex(_ channel: MessageChannel) -> EdgeIndex {
        channel.reversed ? edgeIndexes[channel.relation].reversed : edgeIndexes[channel.relation]
    }

    /// Number of nodes of type `t`.
    public func nodeCount(_ t: NodeType) -> Int { nodeOffsets[t.rawValue][graphCount] }
    /// Number of edges of stored relation `r`.
    public func edgeCount(_ r: Int) -> Int { sources[r].count }

    /// The union of `graphs`, normalised by `normalizer`.
    /// - Throws: `GraphNetError.featureMismatch` if a graph's feature columns differ from the normaliser's.
    public init(graphs: [OCTAGraph], normalizer: FeatureNormalizer) throws {
        for g in graphs { try normalizer.check(g) }
        graphCount = graphs.count
        var feats: [Tensor] = [], batches: [[Int]] = [], offsets: [[Int]] = []
        for t in NodeType.allCases {
            let stats = normalizer.nodes[t.rawValue]
            var raw: [Float] = [], b: [Int] = [], off = [0]
            for (gi, g) in graphs.enumerated() {
                let ns = t.nodes(of: g)
                raw += ns.features
                b += [Int](repeating: gi, count: ns.count)
                off.append(off.last! + ns.count)
            }
            feats.append(Tensor(stats.normalize(raw), shape: [off.last!, stats.names.count]))
            batches.append(b); offsets.append(off)
        }
        features = feats; batch = batches; nodeOffsets = offsets
        let g = normalizer.global
        globalFeatures = Tensor(g.normalize(graphs.flatMap { FeatureNormalizer.globalRow($0, names: g.names) }),
                                shape: [graphs.count, g.names.count])
        var src: [[Int]] = [], tgt: [[Int]] = [], eoff: [[Int]] = []
        for r in GraphSchema.relations {
            var s: [Int] = [], d: [Int] = [], off = [0]
            for (gi, gr) in graphs.enumerated() {
                let so = offsets[r.source.rawValue][gi], to = offsets[r.target.rawValue][gi]
                let ns = offsets[r.source.rawValue][gi + 1] - so, nt = offsets[r.target.rawValue][gi + 1] - to
                if let rel = gr.relation(r.name) {
                    for k in 0..<rel.count {
                        let a = Int(rel.source[k]), c = Int(rel.target[k])
                        // An index outside its node set would trap in the scatter kernels; drop it instead
                        // (VesselGraph never writes one, but a hand-edited JSON might).
                        guard a >= 0 && a < ns && c >= 0 && c < nt else { continue }
                        s.append(a + so); d.append(c + to)
                    }
                }
                off.append(s.count)
            }
            src.append(s); tgt.append(d); eoff.append(off)
        }
        sources = src; targets = tgt; edgeOffsets = eoff
        edgeIndexes = GraphSchema.relations.enumerated().map { r, rel in
            EdgeIndex(source: src[r], target: tgt[r], sourceRows: offsets[rel.source.rawValue][graphs.count],
                      targetRows: offsets[rel.target.rawValue][graphs.count])
        }
    }

    /// The disjoint union of `copies` copies of this batch (graphs b, b + graphCount, ... are copies of
    /// graph b): node features and globals repeated, edge indices shifted. Equal to `init(graphs:)` on the
    /// repeated graph list, without re-normalising the features or re-validating the edges, so integrated
    /// gradients can stack its quadrature points cheaply. Feature tensors are fresh leaves (no gradient).
    public func repeated(_ copies: Int) -> GraphBatch {
        precondition(copies >= 1, "GraphBatch.repeated: need at least one copy, got \(copies)")
        let types = NodeType.allCases
        let counts = types.map { nodeCount($0) }
        var feats: [Tensor] = [], batches: [[Int]] = [], offsets: [[Int]] = []
        for t in types {
            feats.append(Self.tile(features[t.rawValue], copies: copies))
            batches.append(Self.tile(batch[t.rawValue], copies: copies, shift: graphCount))
            offsets.append([0] + Self.tile(Array(nodeOffsets[t.rawValue].dropFirst()), copies: copies, shift: counts[t.rawValue]))
        }
        var src: [[Int]] = [], tgt: [[Int]] = [], eoff: [[Int]] = []
        for (r, rel) in GraphSchema.relations.enumerated() {
            let ns = counts[rel.source.rawValue], nt = counts[rel.target.rawValue], e = sources[r].count
            src.append(Self.tile(sources[r], copies: copies, shift: ns))
            tgt.append(Self.tile(targets[r], copies: copies, shift: nt))
            eoff.append([0] + Self.tile(Array(edgeOffsets[r].dropFirst()), copies: copies, shift: e))
        }
        // The sorted edge groups are shifted copies too (EdgeIndex.repeated): no re-sorting.
        let indexes = edgeIndexes.map { $0.repeated(copies) }
        return GraphBatch(graphCount: graphCount * copies, features: feats, globalFeatures: Self.tile(globalFeatures, copies: copies),
                          batch: batches, nodeOffsets: offsets, sources: src, targets: tgt, edgeOffsets: eoff, edgeIndexes: indexes)
    }

    /// `copies` copies of `a`, copy c with `c * shift` added to every entry (index lists of `repeated`).
    static func tile(_ a: [Int], copies: Int, shift: Int) -> [Int] {
        let n = a.count
        return [Int](unsafeUninitializedCapacity: n * copies) { out, written in
            a.withUnsafeBufferPointer { src in
                for c in 0..<copies {
                    let d = out.baseAddress! + c * n, o = c * shift
                    for i in 0..<n { d[i] = src[i] + o }
                }
            }
            written = n * copies
        }
    }

    /// A fresh tensor of `copies` copies of x's rows, one after the other (no gradient).
    static func tile(_ x: Tensor, copies: Int) -> Tensor {
        let n = x.count
        var shape = x.shape
        shape[0] *= copies
        let values = [Float](unsafeUninitializedCapacity: n * copies) { out, written in
            for c in 0..<copies { (out.baseAddress! + c * n).update(from: x.data.baseAddress!, count: n) }
            written = n * copies
        }
        return Tensor(values, shape: shape)
    }

    /// Memberwise (for `repeated`).
    private init(graphCount: Int, features: [Tensor], globalFeatures: Tensor, batch: [[Int]], nodeOffsets: [[Int]],
                 sources: [[Int]], targets: [[Int]], edgeOffsets: [[Int]], edgeIndexes: [EdgeIndex]) {
        self.graphCount = graphCount; self.features = features; self.globalFeatures = globalFeatures; self.batch = batch
        self.nodeOffsets = nodeOffsets; self.sources = sources; self.targets = targets; self.edgeOffsets = edgeOffsets
        self.edgeIndexes = edgeIndexes
    }

    /// An all-ones edge mask per relation (the real graph), each [E_r] with `requiresGrad` as given: the
    /// starting point of integrated gradients over edges.
    public func onesEdgeMasks(requiresGrad: Bool = false) -> [Tensor] {
        (0..<GraphSchema.relations.count).map { Tensor.ones([edgeCount($0)], requiresGrad: requiresGrad) }
    }
}
