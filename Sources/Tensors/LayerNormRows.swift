import Common
import Dispatch

/// What every LayerNorm over the last axis shares (`layerNorm` and the fused `residualLayerNorm` forms):
/// the shape check, the row layout, the per-row mean and 1/std kept for the backward pass, the forward
/// normalisation of a chunk of rows, and the per-chunk gamma/beta partial sums of the backward pass.
struct LayerNormRows {
    /// Rows (all axes but the last) and their length.
    let rows: Int, cols: Int
    /// Rows per parallel chunk: about 16k floats each.
    let minRows: Int
    /// Per-row mean, then per-row 1/std (`rows` each), written by `normalize`.
    let stats: BufferOwner

    /// Checks that gamma and beta match x's last axis; traps, naming `op` and the shapes, otherwise.
    init(_ op: String, x: Tensor, gamma: Tensor, beta: Tensor) {
        cols = x.shape.last ?? 1
        precondition(gamma.count == cols && beta.count == cols,
                     Tensor.shapeMismatchMessage(op, x.shape, gamma.shape, detail: "gamma/beta must match the last axis"))
        rows = x.count / max(cols, 1)
        minRows = max(1, 16384 / max(cols, 1))
        stats = BufferOwner(count: 2 * rows)
    }

    var mean: UnsafeMutablePointer<Float> { stats.buffer.baseAddress! }
    var rstd: UnsafeMutablePointer<Float> { stats.buffer.baseAddress! + rows }

    /// LayerNorm of rows `r` of x into the same rows of y, saving their mean and 1/std.
    func normalize(_ r: Range<Int>, _ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>,
                   gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float) {
        let o = r.lowerBound
        Kernels.layerNormRows(x + o * cols, y + o * cols, gamma: gamma, beta: beta, rows: r.count, cols: cols, eps: eps,
                              mean: mean + o, rstd: rstd + o)
    }

    /// The backward pass's row chunks (one per core) and a zeroed buffer for their gamma/beta partial sums:
    /// chunk c's dGamma at `c * 2 * cols`, its dBeta right after (summed by `addParameterPartials`).
    func backwardChunks() -> (ranges: [Range<Int>], partials: BufferOwner) {
        let ranges = ColumnStatistics.chunks(rows, minChunk: minRows)
        let partials = BufferOwner(count: ranges.count * 2 * cols)
        partials.buffer.baseAddress!.update(repeating: 0, count: ranges.count * 2 * cols)
        return (ranges, partials)
    }

    /// Where one row of a backward chunk works: the row's normalised values and their gradients (scratch,
    /// `cols` each), the chunk's dGamma and dBeta partial sums, and x's gradient (nil when x needs none).
    struct BackwardRow {
        let norm: UnsafeMutablePointer<Float>, dnorm: UnsafeMutablePointer<Float>
        let dGamma: UnsafeMutablePointer<Float>, dBeta: UnsafeMutablePointer<Float>
        let dx: (buffer: UnsafeMutablePointer<Float>, accumulate: Bool)?
    }

    /// The backward pass of out = residual + f(LayerNorm(x)) around its per-row part (`flags`: residual, x,
    /// gamma, beta, as recorded): dL/dout goes to the residual as it is; then, when x, gamma or beta need a
    /// gradient, `row(r, at)` runs for every row r (rows split in chunks over the cores, each chunk with its
    /// own scratch and partial sums), and the chunks' dGamma/dBeta sums are added in order.
    @inline(__always)  // into each op; the per-row closure stays one call per row (callgrind: no more instructions)
    func residualBackward(_ G: UnsafePointer<Float>, residual: Tensor, x: Tensor, gamma: Tensor, beta: Tensor, flags: [Bool],
                          row: (_ r: Int, _ at: BackwardRow) -> Void) {
        if flags[0] { Tensor.passResidualGradient(G, to: residual, count: rows * cols) }
        guard flags[1] || flags[2] || flags[3] else { return }
        // After the residual's gradient: x may be the residual itself, whose gradient then already exists.
        let dx = flags[1] ? x.gradDestination() : nil
        let (ranges, partials) = backwardChunks()
        let P = partials.buffer.baseAddress!
        let cols = cols
        DispatchQueue.concurrentPerform(iterations: ranges.count) { c in
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 2 * cols)
            defer { scratch.deallocate() }
            let at = BackwardRow(norm: scratch, dnorm: scratch + cols, dGamma: P + c * 2 * cols, dBeta: P + c * 2 * cols + cols, dx: dx)
            for r in ranges[c] { row(r, at) }
        }
        if flags[2] || flags[3] {
            addParameterPartials(partials, chunks: ranges.count, gamma: flags[2] ? gamma : nil, beta: flags[3] ? beta : nil)
        }
    }

    /// Adds the chunks' partial sums into the gradients of gamma and beta (those given), chunk by chunk in
    /// order, so the result does not depend on the threads' timing.
    func addParameterPartials(_ partials: BufferOwner, chunks: Int, gamma: Tensor?, beta: Tensor?) {
        let P = partials.buffer.baseAddress!
        let GW = gamma?.gradBuffer().baseAddress!
        let GB = beta?.gradBuffer().baseAddress!
        for c in 0..<chunks {
            let dW = P + c * 2 * cols, dB = dW + cols
            if let GW { for j in 0..<cols { GW[j] += dW[j] } }
            if let GB { for j in 0..<cols { GB[j] += dB[j] } }
        }
    }
}

extension Tensor {
    /// dL/dresidual = dL/dout for the fused residual ops (out = residual + f(x)): written into the
    /// residual's gradient, or added when it already has one.
    static func passResidualGradient(_ G: UnsafePointer<Float>, to residual: Tensor, count: Int) {
        let (gr, acc) = residual.gradDestination()
        Parallel.forEach(count, minChunk: elementwiseMinChunk) { r in
            if acc { Kernels.addScaled(gr + r.lowerBound, G + r.lowerBound, 1, count: r.count) }
            else { (gr + r.lowerBound).update(from: G + r.lowerBound, count: r.count) }
        }
    }
}
