import Common

extension Tensor {
    /// Inverted dropout: in training, zeroes each element with probability `p` (drawn from `generator`, so a
    /// seed fixes the mask) and scales survivors by 1/(1-p); otherwise (or if p == 0) returns self unchanged.
    public func dropout(p: Float, training: Bool, generator: inout SeededGenerator) -> Tensor {
        precondition(p >= 0 && p < 1, "dropout: p must be in [0, 1), got \(p)")
        guard training && p > 0 else { return self }
        let keep = 1 / (1 - p)
        let mask = BufferOwner(count: count)
        let M = mask.buffer, X = data
        let out = Tensor(uninitializedShape: shape)
        for i in 0..<count {
            M[i] = generator.uniform() < Double(p) ? 0 : keep
            out.data[i] = X[i] * M[i]
        }
        Tensor.record(out, [self]) { _ in
            { out in
                let M = mask.buffer, G = out.grad!, GX = self.gradBuffer()
                for i in 0..<out.count { GX[i] += G[i] * M[i] }
            }
        }
        return out
    }
}
