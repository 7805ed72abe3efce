import Common

/// A binary elementwise function with its partial derivatives (used to specialise one generic kernel).
protocol BinaryKernel {
    static func f(_ a: Float, _ b: Float) -> Float
    static func da(_ a: Float, _ b: Float) -> Float
    static func db(_ a: Float, _ b: Float) -> Float
}

struct AddKernel: BinaryKernel {
    @inline(__always) static func f(_ a: Float, _ b: Float) -> Float { a + b }
    @inline(__always) static func da(_ a: Float, _ b: Float) -> Float { 1 }
    @inline(__always) static func db(_ a: Float, _ b: Float) -> Float { 1 }
}
struct SubKernel: BinaryKernel {
    @inline(__always) static func f(_ a: Float, _ b: Float) -> Float { a - b }
    @inline(__always) static func da(_ a: Float, _ b: Float) -> Float { 1 }
    @inline(__always) static func db(_ a: Float, _ b: Float) -> Float { -1 }
}
struct MulKernel: BinaryKernel {
    @inline(__always) static func f(_ a: Float, _ b: Float) -> Float { a * b }
    @inline(__always) static func da(_ a: Float, _ b: Float) -> Float { b }
    @inline(__always) static func db(_ a: Float, _ b: Float) -> Float { a }
}
struct DivKernel: BinaryKernel {
    @inline(__always) static func f(_ a: Float, _ b: Float) -> Float { a / b }
    @inline(__always) static func da(_ a: Float, _ b: Float) -> Float { 1 / b }
    @inline(__always) static func db(_ a: Float, _ b: Float) -> Float { -a / (b * b) }
}

/// Elements per thread below which elementwise loops stay on one thread.
let elementwiseMinChunk = 1 << 15

extension Tensor {
    static func binary<K: BinaryKernel>(_ a: Tensor, _ b: Tensor, _ kernel: K.Type, _ name: String) -> Tensor {
        guard let outShape = Broadcast.shape(a.shape, b.shape),
              let pa = Broadcast.pattern(a.shape, in: outShape),
              let pb = Broadcast.pattern(b.shape, in: outShape) else {
            preconditionFailure(shapeMismatchMessage(name, a.shape, b.shape,
                detail: "broadcasting needs equal shapes, a scalar, or one contiguous block of matching dimensions"))
        }
        let out = Tensor(uninitializedShape: outShape)
        let n = out.count
        let A = a.data, B = b.data, O = out.data
        let aFull = pa.isFull(count: n), bFull = pb.isFull(count: n)
        if aFull && bFull {
            Parallel.forEach(n, minChunk: elementwiseMinChunk) { r in
                for i in r { O[i] = K.f(A[i], B[i]) }
            }
        } else if aFull && pb.inner == 1 {
            // Row broadcast of b (bias-like): inner loop over b's n elements, vectorisable.
            let m = pb.n
            Parallel.forEach(n / m, minChunk: max(1, elementwiseMinChunk / m)) { r in
                for o in r { for j in 0..<m { O[o * m + j] = K.f(A[o * m + j], B[j]) } }
            }
        } else if bFull && pa.inner == 1 {
            // Row broadcast of a (bias + x written the other way round).
            let m = pa.n
            Parallel.forEach(n / m, minChunk: max(1, elementwiseMinChunk / m)) { r in
                for o in r { for j in 0..<m { O[o * m + j] = K.f(A[j], B[o * m + j]) } }
            }
        } else {
            for i in 0..<n { O[i] = K.f(A[pa.index(i)], B[pb.index(i)]) }
        }
        record(out, [a, b]) { flags in
            let (ga, gb) = (flags[0], flags[1])
            return { out in
                let G = out.grad!
                if ga {
                    if aFull && bFull {
                        let (GA, acc) = a.gradDestination()  // every element written: no zero fill needed
                        Parallel.forEach(n, minChunk: elementwiseMinChunk) { r in
                            if acc { for i in r { GA[i] += G[i] * K.da(A[i], B[i]) } }
                            else { for i in r { GA[i] = G[i] * K.da(A[i], B[i]) } }
                        }
                    } else {
                        let GA = a.gradBuffer()
                        for i in 0..<n { let ia = pa.index(i); GA[ia] += G[i] * K.da(A[ia], B[pb.index(i)]) }
                    }
                }
                if gb {
                    if aFull && bFull {
                        let (GB, acc) = b.gradDestination()
                        Parallel.forEach(n, minChunk: elementwiseMinChunk) { r in
                            if acc { for i in r { GB[i] += G[i] * K.db(A[i], B[i]) } }
                            else { for i in r { GB[i] = G[i] * K.db(A[i], B[i]) } }
                        }
                        return
                    }
                    let GB = b.gradBuffer()
                    if aFull && pb.inner == 1 {
                        let m = pb.n
                        for o in 0..<(n / m) { for j in 0..<m { GB[j] += G[o * m + j] * K.db(A[o * m + j], B[j]) } }
                    } else {
                        for i in 0..<n { let ib = pb.index(i); GB[ib] += G[i] * K.db(A[pa.index(i)], B[ib]) }
                    }
                }
            }
        }
        return out
    }

    /// Elementwise a + b with broadcasting (same shape, scalar, row [N,D]+[D], column [N,D]+[N,1], or any
    /// operand whose non-1 dimensions form one contiguous block of the output's). Traps, naming both shapes,
    /// on incompatible shapes.
    public static func + (a: Tensor, b: Tensor) -> Tensor { binary(a, b, AddKernel.self, "add") }
    /// Elementwise a - b with broadcasting (see `+`).
    public static func - (a: Tensor, b: Tensor) -> Tensor { binary(a, b, SubKernel.self, "sub") }
    /// Elementwise a * b with broadcasting (see `+`); e.g. messages [E,D] * edgeMask [E,1].
    public static func * (a: Tensor, b: Tensor) -> Tensor { binary(a, b, MulKernel.self, "mul") }
    /// Elementwise a / b with broadcasting (see `+`).
    public static func / (a: Tensor, b: Tensor) -> Tensor { binary(a, b, DivKernel.self, "div") }

    /// a * s + t for scalars s, t (one fused op; used for scaling and shifting).
    public func affine(scale s: Float, shift t: Float = 0) -> Tensor {
        let out = Tensor(uninitializedShape: shape)
        let X = data, O = out.data
        Parallel.forEach(count, minChunk: elementwiseMinChunk) { r in for i in r { O[i] = X[i] * s + t } }
        Tensor.record(out, [self]) { _ in
            { out in
                let G = out.grad!, GX = self.gradBuffer()
                for i in 0..<self.count { GX[i] += G[i] * s }
            }
        }
        return out
    }

    /// Tensor times a scalar.
    public static func * (a: Tensor, s: Float) -> Tensor { a.affine(scale: s) }
    /// Scalar times a tensor.
    public static func * (s: Float, a: Tensor) -> Tensor { a.affine(scale: s) }
    /// Tensor plus a scalar.
    public static func + (a: Tensor, s: Float) -> Tensor { a.affine(scale: 1, shift: s) }
    /// Tensor minus a scalar.
    public static func - (a: Tensor, s: Float) -> Tensor { a.affine(scale: 1, shift: -s) }
    /// Negation.
    public static prefix func - (a: Tensor) -> Tensor { a.affine(scale: -1) }
}
