/// Reshape, transpose, concatenation and slicing (each copies; tensors never alias).
extension Tensor {
    /// The same values with a new shape of equal count; one dimension may be -1 (inferred).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var s = newShape
        if let k = s.firstIndex(of: -1) {
            let rest = s.enumerated().filter { $0.offset != k }.map(\.element).reduce(1, *)
            precondition(rest > 0 && count % rest == 0, Tensor.shapeMismatchMessage("reshape", shape, newShape))
            s[k] = count / rest
        }
        precondition(s.reduce(1, *) == count, Tensor.shapeMismatchMessage("reshape", shape, newShape))
        let out = Tensor(uninitializedShape: s)
        out.data.baseAddress!.update(from: data.baseAddress!, count: count)
        Tensor.record(out, [self]) { _ in
            { out in
                let G = out.grad!, GX = self.gradBuffer()
                for i in 0..<out.count { GX[i] += G[i] }
            }
        }
        return out
    }

    /// Swaps axes `a` and `b` (negative counts from the end), materialising the result row-major.
    public func transposed(_ a: Int, _ b: Int) -> Tensor {
        let r = rank
        let a = a < 0 ? a + r : a, b = b < 0 ? b + r : b
        precondition(a >= 0 && a < r && b >= 0 && b < r, "transpose: axes \(a), \(b) out of range for \(shape)")
        let (lo, hi) = (min(a, b), max(a, b))
        var outShape = shape
        outShape.swapAt(lo, hi)
        // View the tensor as [P, A, M, B, I] with A, B the swapped axes; output is [P, B, M, A, I].
        let P = shape[..<lo].reduce(1, *), A = shape[lo], M = shape[(lo + 1)..<hi].reduce(1, *)
        let B = shape[hi], I = shape[(hi + 1)...].reduce(1, *)
        let out = Tensor(uninitializedShape: outShape)
        @inline(__always) func forEachPair(_ body: (Int, Int) -> Void) {
            for p in 0..<P { for x in 0..<A { for m in 0..<M { for y in 0..<B {
                let src = ((((p * A + x) * M + m) * B + y) * I)
                let dst = ((((p * B + y) * M + m) * A + x) * I)
                body(src, dst)
            } } } }
        }
        let X = data.baseAddress!, Y = out.data.baseAddress!
        forEachPair { s, d in (Y + d).update(from: X + s, count: I) }
        Tensor.record(out, [self]) { _ in
            { out in
                let G = out.grad!.baseAddress!, GX = self.gradBuffer().baseAddress!
                forEachPair { s, d in for i in 0..<I { GX[s + i] += G[d + i] } }
            }
        }
        return out
    }

    /// Joins tensors along `axis`; all other dimensions must agree (traps naming the shapes otherwise).
    public static func concat(_ parts: [Tensor], axis: Int) -> Tensor {
        precondition(!parts.isEmpty, "concat: no tensors")
        let r = parts[0].rank
        let ax = axis < 0 ? axis + r : axis
        precondition(ax >= 0 && ax < r, "concat: axis \(axis) out of range for \(parts[0].shape)")
        for p in parts {
            var s0 = parts[0].shape, s1 = p.shape
            precondition(s1.count == r, shapeMismatchMessage("concat", s0, s1))
            s0[ax] = 0; s1[ax] = 0
            precondition(s0 == s1, shapeMismatchMessage("concat", parts[0].shape, p.shape, detail: "only axis \(ax) may differ"))
        }
        var outShape = parts[0].shape
        outShape[ax] = parts.reduce(0) { $0 + $1.shape[ax] }
        let outer = outShape[..<ax].reduce(1, *), inner = outShape[(ax + 1)...].reduce(1, *)
        let rowOut = outShape[ax] * inner
        let out = Tensor(uninitializedShape: outShape)
        var offsets: [Int] = []
        var off = 0
        for p in parts {
            offsets.append(off)
            let w = p.shape[ax] * inner
            for o in 0..<outer {
                (out.data.baseAddress! + o * rowOut + off).update(from: p.data.baseAddress! + o * w, count: w)
            }
            off += w
        }
        record(out, parts) { flags in
            { out in
                let G = out.grad!.baseAddress!
                for (k, p) in parts.enumerated() where flags[k] {
                    let w = p.shape[ax] * inner, GP = p.gradBuffer().baseAddress!
                    for o in 0..<outer {
                        let g = G + o * rowOut + offsets[k], gp = GP + o * w
                        for i in 0..<w { gp[i] += g[i] }
                    }
                }
            }
        }
        return out
    }

    /// Elements `range` along `axis` (a copy).
    public func slice(axis: Int, _ range: Range<Int>) -> Tensor {
        let ax = axis < 0 ? axis + rank : axis
        precondition(ax >= 0 && ax < rank && range.lowerBound >= 0 && range.upperBound <= shape[ax],
                     "slice: range \(range) on axis \(axis) out of bounds for shape \(shape)")
        let (outer, n, inner) = split(axis: ax)
        var outShape = shape
        outShape[ax] = range.count
        let w = range.count * inner
        let out = Tensor(uninitializedShape: outShape)
        for o in 0..<outer {
            (out.data.baseAddress! + o * w).update(from: data.baseAddress! + (o * n + range.lowerBound) * inner, count: w)
        }
        Tensor.record(out, [self]) { _ in
            { out in
                let G = out.grad!.baseAddress!, GX = self.gradBuffer().baseAddress!
                for o in 0..<outer {
                    let g = G + o * w, gx = GX + (o * n + range.lowerBound) * inner
                    for i in 0..<w { gx[i] += g[i] }
                }
            }
        }
        return out
    }
}
