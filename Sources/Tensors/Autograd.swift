/// Recording ops into the graph, and the backward pass.
extension Tensor {
    /// Attaches `backward` to `out` if the current thread's mode says any of `inputs` needs a gradient.
    /// Returns the per-input flags (captured by `backward` so it only writes where it must).
    /// `backward` receives the output tensor, reads `out.grad` and accumulates (+=) into the inputs' grads.
    @inline(__always)
    static func record(_ out: Tensor, _ inputs: [Tensor], _ makeBackward: ([Bool]) -> (Tensor) -> Void) {
        let mode = GradMode.current
        if mode == .disabled { return }
        var flags = [Bool](repeating: false, count: inputs.count)
        var any = false
        for (i, t) in inputs.enumerated() where t.tracked(mode) { flags[i] = true; any = true }
        guard any else { return }
        out.parents = inputs
        out.backwardFn = makeBackward(flags)
    }

    /// Back-propagates from this tensor: seeds d(self)/d(self) = 1 (or `seed`, same count as self), then
    /// runs every backward closure in reverse topological order. Gradients accumulate (+=) into leaves'
    /// `grad`; call `zeroGrad` between steps. The graph is released afterwards (like PyTorch's default).
    public func backward(seed: [Float]? = nil) {
        precondition(backwardFn != nil || requiresGrad,
                     "backward: tensor of shape \(shape) does not depend on anything that requires a gradient")
        if let s = seed {
            precondition(s.count == count, Tensor.shapeMismatchMessage("backward(seed:)", shape, [s.count]))
            let g = gradBuffer()
            for i in 0..<count { g[i] += s[i] }
        } else {
            precondition(count == 1, "backward: implicit seed needs a scalar, got shape \(shape); pass seed:")
            gradBuffer()[0] += 1
        }
        // Iterative DFS (graphs can be thousands of ops deep; recursion could overflow the stack).
        var order: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Tensor, Int)] = [(self, 0)]
        visited.insert(ObjectIdentifier(self))
        while let (node, next) = stack.popLast() {
            if next < node.parents.count {
                stack.append((node, next + 1))
                let p = node.parents[next]
                if p.backwardFn != nil, visited.insert(ObjectIdentifier(p)).inserted {
                    stack.append((p, 0))
                }
            } else {
                order.append(node)
            }
        }
        for node in order.reversed() {
            if let fn = node.backwardFn, node.grad != nil { fn(node) }
        }
        for node in order {
            node.backwardFn = nil
            node.parents = []
        }
    }
}
