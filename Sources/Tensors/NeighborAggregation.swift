import Common

/// How `aggregateNeighbors` combines the messages arriving at a node.
public enum NeighborReduction: Sendable {
    /// Sum of the (weighted) messages.
    case sum
    /// Sum divided by the number of incoming edges (0 for nodes without any), as SAGE's mean aggregator.
    case mean
}

extension Tensor {
    /// Fused message passing: out[t] = reduce over edges e with target[e] == t of w_e * x[source[e]],
    /// x [N, D] -> [rows, D]. `edgeWeight` ([E] or [E, 1]; nil = all 1) multiplies each message, e.g. GCN
    /// normalisation or the per-edge mask that integrated gradients differentiates; gradients flow to x and
    /// to the weights. Equivalent to `(x.gatherRows(source) * w).scatterMean(target, rows:)` without the
    /// [E, D] intermediate, which at 240k edges x 64 features would be 60 MB per layer (plus its gradient).
    /// Traps if an index is out of range or the lists differ in length.
    public static func aggregateNeighbors(_ x: Tensor, source: [Int], target: [Int], rows: Int,
                                          edgeWeight: Tensor? = nil, reduce: NeighborReduction = .sum) -> Tensor {
        precondition(x.rank == 2, "aggregateNeighbors: x must be [N, D], got \(x.shape)")
        precondition(source.count == target.count,
                     shapeMismatchMessage("aggregateNeighbors", [source.count], [target.count], detail: "source and target lists differ"))
        let n = x.shape[0], d = x.shape[1], edges = source.count
        if let w = edgeWeight {
            precondition(w.count == edges, shapeMismatchMessage("aggregateNeighbors edge weights", w.shape, [edges]))
        }
        for e in 0..<edges {
            precondition(source[e] >= 0 && source[e] < n, "aggregateNeighbors: source[\(e)] = \(source[e]) is outside 0..<\(n)")
            precondition(target[e] >= 0 && target[e] < rows, "aggregateNeighbors: target[\(e)] = \(target[e]) is outside 0..<\(rows)")
        }
        // Per-target scale: 1, or 1/in-degree for the mean.
        var scale = [Float](repeating: 1, count: rows)
        if reduce == .mean {
            var deg = [Float](repeating: 0, count: rows)
            for t in target { deg[t] += 1 }
            for r in 0..<rows { scale[r] = deg[r] > 0 ? 1 / deg[r] : 0 }
        }
        let out = Tensor.zeros([rows, d])
        let X = x.data.baseAddress!, Y = out.data.baseAddress!
        let W = edgeWeight?.data.baseAddress
        scatterByOwner(target, rows: rows, work: edges * d) { e in
            let t = target[e]
            Kernels.addScaled(Y + t * d, X + source[e] * d, (W?[e] ?? 1) * scale[t], count: d)
        }
        let inputs = edgeWeight.map { [x, $0] } ?? [x]
        record(out, inputs) { flags in
            { out in
                let G = out.grad!.baseAddress!
                if flags[0] {
                    let GX = x.gradBuffer().baseAddress!
                    scatterByOwner(source, rows: n, work: edges * d) { e in
                        let t = target[e]
                        Kernels.addScaled(GX + source[e] * d, G + t * d, (W?[e] ?? 1) * scale[t], count: d)
                    }
                }
                if flags.count > 1 && flags[1] {
                    let GW = edgeWeight!.gradBuffer().baseAddress!
                    Parallel.forEach(edges, minChunk: 4096) { r in
                        for e in r {
                            let t = target[e]
                            GW[e] += scale[t] * Kernels.dot(G + t * d, X + source[e] * d, count: d)
                        }
                    }
                }
            }
        }
        return out
    }
}
