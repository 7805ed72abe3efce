import COpenBLAS
import Common
import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// OpenBLAS matrix kernels on raw row-major buffers, and the OpenBLAS thread count.
///
/// These are public so that hot inference loops (a KV-cached decoder) can call them directly on their own
/// buffers, with no autodiff bookkeeping. All matrices are row-major; leading dimensions default to dense.
public enum BLAS {
    /// OpenBLAS threads used unless `OPENBLAS_NUM_THREADS` is set or `setThreadCount` is called: chosen from
    /// `capillary bench-tensors` on the model shapes (docs/BENCHMARKS.md, Tensors).
    public static let defaultThreadCount = 1

    // Applied once, before the first BLAS call or explicit setting, so an explicit choice always wins.
    private static let configured: Bool = {
        selectKernelsIfDetectionFailed()
        if getenv("OPENBLAS_NUM_THREADS") == nil { openblas_set_num_threads(Int32(defaultThreadCount)) }
        return true
    }()

    /// The OpenBLAS kernel family in use (e.g. "SkylakeX", "Haswell", "Prescott").
    public static var coreName: String { ensureConfigured(); return String(cString: openblas_get_corename()) }

    /// The kernel family OpenBLAS picked at load time, before any correction.
    public private(set) static var detectedCoreName = ""

    /// OpenBLAS builds with DYNAMIC_ARCH pick kernels from the CPUID model number. On virtual machines that
    /// report a CPU model it does not know (here: a Sapphire Rapids guest), it falls back to "Prescott"
    /// (SSE3) kernels, about 5x slower than the AVX-512 ones on our shapes (docs/BENCHMARKS.md, Tensors).
    /// If that happened and the CPU flags show AVX-512 (or AVX2 + FMA), re-run OpenBLAS's own dynamic
    /// selection with OPENBLAS_CORETYPE set, exactly as if the user had exported it. A user-set
    /// OPENBLAS_CORETYPE is respected; builds without DYNAMIC_ARCH lack the entry points and are left alone.
    static func selectKernelsIfDetectionFailed() {
        detectedCoreName = String(cString: openblas_get_corename())
        guard getenv("OPENBLAS_CORETYPE") == nil,
              ["Prescott", "Katmai", "Coppermine", "Northwood", "Banias", "Core2", "Penryn", "Dunnington",
               "Nehalem", "Unknown"].contains(detectedCoreName),
              let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flagLine = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return }
        let flags = Set(flagLine.split(separator: " ").map(String.init))
        let target: String
        if ["avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd"].allSatisfy(flags.contains) {
            target = "SkylakeX"
        } else if ["avx2", "fma"].allSatisfy(flags.contains) {
            target = "Haswell"
        } else {
            return
        }
        guard let handle = dlopen(nil, RTLD_NOW),
              let quit = dlsym(handle, "gotoblas_dynamic_quit"),
              let initialize = dlsym(handle, "gotoblas_dynamic_init") else { return }
        typealias Entry = @convention(c) () -> Void
        setenv("OPENBLAS_CORETYPE", target, 1)
        unsafeBitCast(quit, to: Entry.self)()
        unsafeBitCast(initialize, to: Entry.self)()
    }

    @inline(__always) static func ensureConfigured() { _ = configured }

    /// Sets the number of threads OpenBLAS uses for one call (process-wide; n >= 1).
    public static func setThreadCount(_ n: Int) {
        precondition(n >= 1, "BLAS.setThreadCount: need at least 1 thread, got \(n)")
        ensureConfigured()
        openblas_set_num_threads(Int32(n))
    }

    /// The number of threads OpenBLAS currently uses.
    public static var threadCount: Int { ensureConfigured(); return Int(openblas_get_num_threads()) }

    /// Products with at least this many multiply-adds (M*N*K) are split across the cores by `sgemm` when
    /// OpenBLAS itself runs single-threaded (see `sgemm(split:)`).
    public static let splitMinMultiplyAdds = 1 << 21

    /// C[M,N] = alpha * op(A) * op(B) + beta * C, with op(A) [M,K] and op(B) [K,N].
    /// `transA`: A is stored [K,M] (lda >= M) and used transposed; likewise `transB` (B stored [N,K]).
    /// Leading dimensions (row strides, in elements) default to the dense ones; pass larger strides to
    /// address a column block inside a wider matrix (e.g. one attention head inside [T, 3C]).
    ///
    /// With `split` (default) and OpenBLAS on one thread, a large product is cut into independent blocks of
    /// C rows (or columns, whichever dimension is longer), one per core, each a single-threaded sgemm. On this
    /// project's skinny shapes that beats OpenBLAS's own threading (docs/BENCHMARKS.md, Tensors) and it keeps
    /// concurrent callers (daemon threads) from contending for OpenBLAS's thread pool.
    @inline(__always)
    public static func sgemm(split: Bool = true, transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                             alpha: Float = 1, a: UnsafePointer<Float>, lda: Int? = nil,
                             b: UnsafePointer<Float>, ldb: Int? = nil,
                             beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int? = nil) {
        if m == 0 || n == 0 { return }
        ensureConfigured()
        let lda = lda ?? (transA ? m : k)
        let ldb = ldb ?? (transB ? k : n)
        let ldc = ldc ?? n
        let parts = Parallel.threadCount
        if split && parts > 1 && m * n * k >= splitMinMultiplyAdds && max(m, n) >= 2 * parts
            && openblas_get_num_threads() == 1 {
            if m >= n {
                let step = (m + parts - 1) / parts
                DispatchQueue.concurrentPerform(iterations: parts) { p in
                    let m0 = p * step, rows = min(m, m0 + step) - m0
                    guard rows > 0 else { return }
                    gemm(transA, transB, rows, n, k, alpha, a + (transA ? m0 : m0 * lda), lda, b, ldb, beta,
                         c + m0 * ldc, ldc)
                }
            } else {
                let step = (n + parts - 1) / parts
                DispatchQueue.concurrentPerform(iterations: parts) { p in
                    let n0 = p * step, cols = min(n, n0 + step) - n0
                    guard cols > 0 else { return }
                    gemm(transA, transB, m, cols, k, alpha, a, lda, b + (transB ? n0 * ldb : n0), ldb, beta,
                         c + n0, ldc)
                }
            }
        } else {
            gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        }
    }

    @inline(__always)
    static func gemm(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                     _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                     _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// y[M] = alpha * A[M,N] * x[N] + beta * y (or A^T x with `transA`, then x has M and y has N entries).
    @inline(__always)
    public static func sgemv(transA: Bool = false, m: Int, n: Int, alpha: Float = 1,
                             a: UnsafePointer<Float>, lda: Int? = nil, x: UnsafePointer<Float>,
                             beta: Float = 0, y: UnsafeMutablePointer<Float>) {
        if m == 0 || n == 0 { return }
        ensureConfigured()
        cblas_sgemv(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), alpha,
                    a, Int32(lda ?? n), x, 1, beta, y, 1)
    }
}
