import Common

/// The operands of a linear op z = x W^T + b, checked once, and the two halves every linear op shares:
/// the product (bias broadcast, then one sgemm) and the backward pass to x, W and b. The fused ops
/// (`linear`, `linear(activation:)`, `linearGELU`, `linearSiLU`) state only what they do with z.
struct LinearOperands {
    /// x [..., in], weight [out, in], bias [out] or nil.
    let x: Tensor, weight: Tensor, bias: Tensor?
    /// Rows of x (the product of all axes but the last), outputs and inputs per row.
    let rows: Int, outputs: Int, inputs: Int

    /// Checks the shapes; traps, naming `op` and both shapes, on mismatch (a programmer error).
    init(_ op: String, x: Tensor, weight: Tensor, bias: Tensor?) {
        precondition(x.rank >= 1 && weight.rank == 2 && x.shape.last! == weight.shape[1],
                     Tensor.shapeMismatchMessage(op, x.shape, weight.shape, detail: "x [..., in] needs weight [out, in]"))
        inputs = weight.shape[1]
        outputs = weight.shape[0]
        if let b = bias { precondition(b.count == outputs, Tensor.shapeMismatchMessage(op + " bias", weight.shape, b.shape)) }
        rows = x.count / max(inputs, 1)
        self.x = x
        self.weight = weight
        self.bias = bias
    }

    /// A new, uninitialised output [..., out].
    func makeOutput() -> Tensor { Tensor(uninitializedShape: Array(x.shape.dropLast()) + [outputs]) }

    /// The tensors the op records, in the order `accumulateGradients` reads its flags: x, weight, bias.
    var recordedInputs: [Tensor] { bias.map { [x, weight, $0] } ?? [x, weight] }

    /// z = x W^T + b into z [rows, out]: the bias broadcast into every row, then one sgemm adding to it.
    func product(into z: UnsafeMutablePointer<Float>) {
        if let b = bias { Kernels.broadcastRows(b.data.baseAddress!, into: z, rows: rows, cols: outputs) }
        BLAS.sgemm(transB: true, m: rows, n: outputs, k: inputs, a: x.data.baseAddress!, b: weight.data.baseAddress!,
                   beta: bias == nil ? 0 : 1, c: z)
    }

    /// Given dL/dz [rows, out], adds dX, dW and db to the operands that need them (`flags` as recorded).
    func accumulateGradients(_ dz: UnsafeMutablePointer<Float>, flags: [Bool]) {
        Tensor.accumulateLinearGradients(dz, x: x, weight: weight, bias: bias, flags: flags, rows: rows)
    }
}
