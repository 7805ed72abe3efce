import COpenBLAS

/// OpenBLAS matrix kernels on raw row-major buffers, and the OpenBLAS thread count.
///
/// These are public so that hot inference loops (a KV-cached decoder) can call them directly on their own
/// buffers, with no autodiff bookkeeping. All matrices are row-major; leading dimensions default to dense.
public enum BLAS {
    /// Sets the number of threads OpenBLAS uses for one call (process-wide). Benchmarks on this project's
    /// shapes (docs/BENCHMARKS.md, Tensors) decide the default; see `defaultThreadCount`.
    public static func setThreadCount(_ n: Int) {
        precondition(n >= 1, "BLAS.setThreadCount: need at least 1 thread, got \(n)")
        openblas_set_num_threads(Int32(n))
    }

    /// The number of threads OpenBLAS currently uses.
    public static var threadCount: Int { Int(openblas_get_num_threads()) }

    /// C[M,N] = alpha * op(A) * op(B) + beta * C, with op(A) [M,K] and op(B) [K,N].
    /// `transA`: A is stored [K,M] (lda >= M) and used transposed; likewise `transB` (B stored [N,K]).
    /// Leading dimensions (row strides, in elements) default to the dense ones; pass larger strides to
    /// address a column block inside a wider matrix (e.g. one attention head inside [T, 3C]).
    @inline(__always)
    public static func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                             alpha: Float = 1, a: UnsafePointer<Float>, lda: Int? = nil,
                             b: UnsafePointer<Float>, ldb: Int? = nil,
                             beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int? = nil) {
        if m == 0 || n == 0 { return }
        let lda = lda ?? (transA ? m : k)
        let ldb = ldb ?? (transB ? k : n)
        let ldc = ldc ?? n
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// y[M] = alpha * A[M,N] * x[N] + beta * y (or A^T x with `transA`, then x has M and y has N entries).
    @inline(__always)
    public static func sgemv(transA: Bool = false, m: Int, n: Int, alpha: Float = 1,
                             a: UnsafePointer<Float>, lda: Int? = nil, x: UnsafePointer<Float>,
                             beta: Float = 0, y: UnsafeMutablePointer<Float>) {
        if m == 0 || n == 0 { return }
        cblas_sgemv(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), alpha,
                    a, Int32(lda ?? n), x, 1, beta, y, 1)
    }
}
