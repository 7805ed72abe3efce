/// Bounds-checked entry points to the raw kernels on buffer pointers, for inference code that keeps its own
/// buffers (a KV-cached decoder). Each checks the buffer sizes with a precondition naming both sizes
/// (a size mismatch is a programmer error) and then runs the pointer kernel; no autodiff is involved.
extension Kernels {
    /// In place: each of the `x.count / cols` rows of x becomes its softmax.
    public static func softmax(_ x: UnsafeMutableBufferPointer<Float>, cols: Int) {
        precondition(cols > 0 && x.count % cols == 0, "Kernels.softmax: \(x.count) values are not rows of \(cols)")
        softmaxRows(x.baseAddress!, x.baseAddress!, rows: x.count / cols, cols: cols)
    }

    /// y = LayerNorm(x) row by row over rows of gamma.count values; x and y may be the same buffer.
    public static func layerNorm(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableBufferPointer<Float>,
                                 gamma: UnsafeBufferPointer<Float>, beta: UnsafeBufferPointer<Float>, eps: Float = 1e-5) {
        let cols = gamma.count
        precondition(cols > 0 && beta.count == cols && x.count % cols == 0 && y.count == x.count,
                     "Kernels.layerNorm: x \(x.count), y \(y.count), gamma \(gamma.count), beta \(beta.count) do not fit")
        layerNormRows(x.baseAddress!, y.baseAddress!, gamma: gamma.baseAddress!, beta: beta.baseAddress!,
                      rows: x.count / cols, cols: cols, eps: eps)
    }

    /// In place GELU (tanh approximation) of every value.
    public static func gelu(_ x: UnsafeMutableBufferPointer<Float>) {
        guard let p = x.baseAddress else { return }
        gelu(p, p, count: x.count)
    }
}

extension BLAS {
    /// y = alpha * W x + beta * y for a row-major W [rows, cols] (a decoder's linear layer without bias,
    /// PyTorch layout [out, in]). Precondition failures name the mismatched sizes.
    public static func gemv(_ w: UnsafeBufferPointer<Float>, rows: Int, cols: Int, x: UnsafeBufferPointer<Float>,
                            into y: UnsafeMutableBufferPointer<Float>, alpha: Float = 1, beta: Float = 0) {
        precondition(w.count == rows * cols && x.count == cols && y.count == rows,
                     "BLAS.gemv: matrix \(w.count) values for [\(rows), \(cols)], x \(x.count), y \(y.count)")
        sgemv(m: rows, n: cols, alpha: alpha, a: w.baseAddress!, x: x.baseAddress!, beta: beta, y: y.baseAddress!)
    }

    /// C [m, n] = alpha * A [m, k] * B + beta * C, where B is [k, n], or [n, k] with `transposeB` (weights in
    /// PyTorch layout). Precondition failures name the mismatched sizes.
    public static func gemm(_ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>,
                            into c: UnsafeMutableBufferPointer<Float>, m: Int, n: Int, k: Int,
                            transposeB: Bool = false, alpha: Float = 1, beta: Float = 0) {
        precondition(a.count == m * k && b.count == k * n && c.count == m * n,
                     "BLAS.gemm: A \(a.count) for [\(m), \(k)], B \(b.count) for \(transposeB ? "[\(n), \(k)]" : "[\(k), \(n)]"), C \(c.count) for [\(m), \(n)]")
        sgemm(transB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a.baseAddress!, b: b.baseAddress!,
              beta: beta, c: c.baseAddress!)
    }
}
