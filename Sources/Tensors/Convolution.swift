/// 2-D convolution (im2col + sgemm) and max/average pooling on [N, C, H, W] tensors.
extension Tensor {
    /// Output size of a convolution or pooling window along one axis.
    static func windowCount(_ size: Int, kernel: Int, stride: Int, padding: Int) -> Int {
        (size + 2 * padding - kernel) / stride + 1
    }

    /// Unfolds image x [C, H, W] into col [C*KH*KW, HO*WO] (zero padding), the layout sgemm wants.
    static func im2col(_ x: UnsafePointer<Float>, _ col: UnsafeMutablePointer<Float>, c: Int, h: Int, w: Int,
                       kh: Int, kw: Int, stride: Int, pad: Int, ho: Int, wo: Int) {
        for ch in 0..<c { for ky in 0..<kh { for kx in 0..<kw {
            let row = col + ((ch * kh + ky) * kw + kx) * ho * wo
            for oy in 0..<ho {
                let iy = oy * stride - pad + ky
                for ox in 0..<wo {
                    let ix = ox * stride - pad + kx
                    row[oy * wo + ox] = (iy >= 0 && iy < h && ix >= 0 && ix < w) ? x[(ch * h + iy) * w + ix] : 0
                }
            }
        } } }
    }

    /// Folds col back, accumulating (+=) into dx [C, H, W]: the adjoint of `im2col`.
    static func col2imAdd(_ col: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, c: Int, h: Int, w: Int,
                          kh: Int, kw: Int, stride: Int, pad: Int, ho: Int, wo: Int) {
        for ch in 0..<c { for ky in 0..<kh { for kx in 0..<kw {
            let row = col + ((ch * kh + ky) * kw + kx) * ho * wo
            for oy in 0..<ho {
                let iy = oy * stride - pad + ky
                guard iy >= 0 && iy < h else { continue }
                for ox in 0..<wo {
                    let ix = ox * stride - pad + kx
                    if ix >= 0 && ix < w { dx[(ch * h + iy) * w + ix] += row[oy * wo + ox] }
                }
            }
        } } }
    }

    /// Convolution: x [N, C, H, W], weight [O, C, KH, KW], bias [O] -> [N, O, HO, WO] with
    /// HO = (H + 2 padding - KH) / stride + 1. Traps, naming both shapes, if channels differ.
    public static func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int = 0) -> Tensor {
        precondition(x.rank == 4 && weight.rank == 4 && x.shape[1] == weight.shape[1],
                     shapeMismatchMessage("conv2d", x.shape, weight.shape, detail: "need x [N, C, H, W] and weight [O, C, KH, KW]"))
        precondition(stride >= 1 && padding >= 0, "conv2d: stride \(stride) must be >= 1 and padding \(padding) >= 0")
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (o, kh, kw) = (weight.shape[0], weight.shape[2], weight.shape[3])
        let ho = windowCount(h, kernel: kh, stride: stride, padding: padding)
        let wo = windowCount(w, kernel: kw, stride: stride, padding: padding)
        precondition(ho > 0 && wo > 0, "conv2d: kernel \(kh)x\(kw) larger than padded input \(x.shape)")
        if let b = bias { precondition(b.count == o, shapeMismatchMessage("conv2d bias", weight.shape, b.shape)) }
        let ckk = c * kh * kw, hw = ho * wo
        let out = Tensor(uninitializedShape: [n, o, ho, wo])
        let cols = BufferOwner(count: n * ckk * hw)  // kept for the weight gradient
        let X = x.data.baseAddress!, Wt = weight.data.baseAddress!, Y = out.data.baseAddress!
        for i in 0..<n {
            let col = cols.buffer.baseAddress! + i * ckk * hw, y = Y + i * o * hw
            im2col(X + i * c * h * w, col, c: c, h: h, w: w, kh: kh, kw: kw, stride: stride, pad: padding, ho: ho, wo: wo)
            if let b = bias { for oc in 0..<o { (y + oc * hw).update(repeating: b.data[oc], count: hw) } }
            BLAS.sgemm(m: o, n: hw, k: ckk, a: Wt, b: col, beta: bias == nil ? 0 : 1, c: y)
        }
        let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
        record(out, inputs) { flags in
            { out in
                let G = out.grad!.baseAddress!
                let dcol = flags[0] ? BufferOwner(count: ckk * hw) : nil
                for i in 0..<n {
                    let g = G + i * o * hw, col = cols.buffer.baseAddress! + i * ckk * hw
                    if flags[1] {  // dW [O, CKK] += dY [O, HW] * col^T
                        BLAS.sgemm(transB: true, m: o, n: ckk, k: hw, a: g, b: col, beta: 1,
                                   c: weight.gradBuffer().baseAddress!)
                    }
                    if flags.count > 2 && flags[2] {
                        let gb = bias!.gradBuffer()
                        for oc in 0..<o { var s: Float = 0; for j in 0..<hw { s += g[oc * hw + j] }; gb[oc] += s }
                    }
                    if let dcol {  // dcol [CKK, HW] = W^T * dY, then fold into dx
                        BLAS.sgemm(transA: true, m: ckk, n: hw, k: o, a: Wt, b: g, c: dcol.buffer.baseAddress!)
                        col2imAdd(dcol.buffer.baseAddress!, x.gradBuffer().baseAddress! + i * c * h * w,
                                  c: c, h: h, w: w, kh: kh, kw: kw, stride: stride, pad: padding, ho: ho, wo: wo)
                    }
                }
            }
        }
        return out
    }

    /// Max pooling over kernel x kernel windows (no padding): [N, C, H, W] -> [N, C, HO, WO].
    /// The gradient goes to the (first) maximum of each window.
    public func maxPool2d(kernel: Int, stride: Int? = nil) -> Tensor { pool2d(kernel: kernel, stride: stride ?? kernel, max: true) }

    /// Average pooling over kernel x kernel windows (no padding): [N, C, H, W] -> [N, C, HO, WO].
    public func avgPool2d(kernel: Int, stride: Int? = nil) -> Tensor { pool2d(kernel: kernel, stride: stride ?? kernel, max: false) }

    func pool2d(kernel k: Int, stride s: Int, max isMax: Bool) -> Tensor {
        precondition(rank == 4, "pool2d: need [N, C, H, W], got \(shape)")
        precondition(k >= 1 && s >= 1, "pool2d: kernel \(k) and stride \(s) must be >= 1")
        let (planes, h, w) = (shape[0] * shape[1], shape[2], shape[3])
        let ho = Tensor.windowCount(h, kernel: k, stride: s, padding: 0)
        let wo = Tensor.windowCount(w, kernel: k, stride: s, padding: 0)
        precondition(ho > 0 && wo > 0, "pool2d: kernel \(k) larger than input \(shape)")
        let out = Tensor(uninitializedShape: [shape[0], shape[1], ho, wo])
        let arg = ArgmaxOwner(count: isMax ? planes * ho * wo : 1)
        let X = data, Y = out.data, inv = 1 / Float(k * k)
        for p in 0..<planes { for oy in 0..<ho { for ox in 0..<wo {
            let oi = (p * ho + oy) * wo + ox
            var best = -Float.infinity, bestAt = 0, sum: Float = 0
            for ky in 0..<k { for kx in 0..<k {
                let xi = (p * h + oy * s + ky) * w + ox * s + kx
                if X[xi] > best { best = X[xi]; bestAt = xi }
                sum += X[xi]
            } }
            if isMax { Y[oi] = best; arg.buffer[oi] = Int32(bestAt) } else { Y[oi] = sum * inv }
        } } }
        Tensor.record(out, [self]) { _ in
            { out in
                let G = out.grad!, GX = self.gradBuffer()
                for p in 0..<planes { for oy in 0..<ho { for ox in 0..<wo {
                    let oi = (p * ho + oy) * wo + ox
                    if isMax { GX[Int(arg.buffer[oi])] += G[oi]; continue }
                    for ky in 0..<k { for kx in 0..<k { GX[(p * h + oy * s + ky) * w + ox * s + kx] += G[oi] * inv } }
                } } }
            }
        }
        return out
    }
}
