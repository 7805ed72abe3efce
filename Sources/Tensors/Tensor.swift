import Common

/// A dense Float32 tensor, contiguous in row-major order, that can take part in reverse-mode autodiff.
///
/// The autodiff graph lives in the tensors themselves: an op's output keeps references to its inputs
/// (`parents`) and a hand-written backward closure; `backward()` sorts that graph topologically and runs the
/// closures in reverse. There is no global tape, so independent threads can build graphs at the same time.
/// Whether an op records anything is decided per thread by `GradMode` (see `Tensor.withoutGrad`).
///
/// Storage is a manually allocated buffer owned by the tensor (freed in `deinit`); `data` exposes it for
/// flat, explicit kernels. Gradients are allocated lazily, zero-filled, on the first accumulation.
public final class Tensor {
    /// Dimensions, outermost first. A scalar has shape `[]` and count 1.
    public let shape: [Int]
    /// Number of elements (product of `shape`).
    public let count: Int
    /// The values, row-major. Writable so kernels and optimizers can update in place.
    public let data: UnsafeMutableBufferPointer<Float>
    /// d(loss)/d(self), same layout as `data`; nil until a backward pass accumulates into it.
    public private(set) var grad: UnsafeMutableBufferPointer<Float>?
    /// Set on leaves (parameters, or inputs whose gradient you want, e.g. for integrated gradients).
    public var requiresGrad: Bool
    /// Marks trainable parameters (made by modules); `Tensor.withFrozenParameters` treats them as constants.
    public var isParameter: Bool = false
    /// Optional label for debugging and error messages.
    public var label: String?

    // Graph: inputs of the op that produced this tensor, and its backward (reads self.grad, += into parents).
    var parents: [Tensor] = []
    var backwardFn: ((Tensor) -> Void)?

    /// A tensor with uninitialised storage: callers (ops) must write every element.
    init(uninitializedShape shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in shape \(shape)")
        self.shape = shape
        self.count = shape.reduce(1, *)
        self.data = UnsafeMutableBufferPointer(start: BufferCache.shared.allocate(count), count: count)
        self.requiresGrad = false
    }

    deinit {
        BufferCache.shared.release(data.baseAddress!, count: count)
        if let g = grad { BufferCache.shared.release(g.baseAddress!, count: count) }
    }

    /// True if this tensor was produced by a recorded op (it has a backward closure).
    public var hasGraph: Bool { backwardFn != nil }

    /// Number of dimensions.
    public var rank: Int { shape.count }

    /// The values as a Swift array (a copy).
    public var array: [Float] { Array(data) }

    /// The gradient as a Swift array (a copy), or zeros if no gradient was accumulated.
    public var gradArray: [Float] { grad.map { Array($0) } ?? [Float](repeating: 0, count: count) }

    /// The single value of a one-element tensor.
    public var item: Float {
        precondition(count == 1, "Tensor.item: tensor of shape \(shape) has \(count) elements, expected 1")
        return data[0]
    }

    /// The gradient buffer, allocated (zero-filled) on first use. Backward closures accumulate into it with +=.
    public func gradBuffer() -> UnsafeMutableBufferPointer<Float> {
        if let g = grad { return g }
        let g = UnsafeMutableBufferPointer(start: BufferCache.shared.allocate(count), count: count)
        g.initialize(repeating: 0)
        grad = g
        return g
    }

    /// The gradient buffer for a backward kernel that writes every element, and whether that kernel must add
    /// to what is there (`accumulate` true) or may overwrite it (false: the buffer was just allocated and is
    /// uninitialised). Saves the zero fill and the read of zeros that `gradBuffer()` + `+=` costs on the
    /// first gradient of a tensor (every intermediate activation's), e.g. sgemm with beta 0 instead of 1.
    func gradDestination() -> (buffer: UnsafeMutablePointer<Float>, accumulate: Bool) {
        if let g = grad { return (g.baseAddress!, true) }
        let g = UnsafeMutableBufferPointer(start: BufferCache.shared.allocate(count), count: count)
        grad = g
        return (g.baseAddress!, false)
    }

    /// Sets the gradient to zero (keeps the buffer; cheaper than freeing it every step).
    public func zeroGrad() {
        if let g = grad { g.update(repeating: 0) }
    }

    /// Frees the gradient buffer.
    public func dropGrad() {
        if let g = grad { BufferCache.shared.release(g.baseAddress!, count: count) }
        grad = nil
    }
}

// MARK: - Creation

extension Tensor {
    /// A tensor of zeros.
    public static func zeros(_ shape: [Int], requiresGrad: Bool = false) -> Tensor {
        full(shape, value: 0, requiresGrad: requiresGrad)
    }

    /// A tensor of ones.
    public static func ones(_ shape: [Int], requiresGrad: Bool = false) -> Tensor {
        full(shape, value: 1, requiresGrad: requiresGrad)
    }

    /// A tensor filled with `value`.
    public static func full(_ shape: [Int], value: Float, requiresGrad: Bool = false) -> Tensor {
        let t = Tensor(uninitializedShape: shape)
        t.data.initialize(repeating: value)
        t.requiresGrad = requiresGrad
        return t
    }

    /// A scalar (shape `[]`).
    public static func scalar(_ value: Float, requiresGrad: Bool = false) -> Tensor {
        full([], value: value, requiresGrad: requiresGrad)
    }

    /// A tensor holding `values` (row-major) with the given shape. Traps if the counts differ (programmer error).
    public convenience init(_ values: [Float], shape: [Int], requiresGrad: Bool = false) {
        self.init(uninitializedShape: shape)
        precondition(values.count == count,
                     "Tensor(values:shape:): \(values.count) values do not fill shape \(shape) (\(count) elements)")
        _ = data.initialize(from: values)
        self.requiresGrad = requiresGrad
    }

    /// Normal(mean, std) entries drawn from a seeded generator (same seed, same tensor on every machine).
    public static func randn(_ shape: [Int], mean: Float = 0, std: Float = 1,
                             generator: inout SeededGenerator, requiresGrad: Bool = false) -> Tensor {
        let t = Tensor(uninitializedShape: shape)
        for i in 0..<t.count { t.data[i] = mean + std * Float(generator.normal()) }
        t.requiresGrad = requiresGrad
        return t
    }

    /// Uniform[lo, hi) entries drawn from a seeded generator.
    public static func uniform(_ shape: [Int], lo: Float, hi: Float,
                               generator: inout SeededGenerator, requiresGrad: Bool = false) -> Tensor {
        let t = Tensor(uninitializedShape: shape)
        for i in 0..<t.count { t.data[i] = lo + (hi - lo) * Float(generator.uniform()) }
        t.requiresGrad = requiresGrad
        return t
    }

    /// A trainable parameter: a leaf with `requiresGrad` and `isParameter` set.
    public static func parameter(_ values: Tensor) -> Tensor {
        values.requiresGrad = true
        values.isParameter = true
        return values
    }

    /// A copy of the values with no graph (a new leaf; `requiresGrad` as given).
    public func detached(requiresGrad: Bool = false) -> Tensor {
        let t = Tensor(uninitializedShape: shape)
        _ = t.data.initialize(fromContentsOf: data)
        t.requiresGrad = requiresGrad
        return t
    }

    /// Copies `other`'s values into this tensor's storage (shapes must have equal counts).
    public func copyValues(from other: Tensor) {
        precondition(other.count == count, Tensor.shapeMismatchMessage("copyValues", shape, other.shape))
        _ = data.update(fromContentsOf: other.data)
    }
}

// MARK: - Messages

extension Tensor {
    /// The text of a shape-mismatch precondition: names the op and both shapes, so a failure says what to fix.
    public static func shapeMismatchMessage(_ op: String, _ a: [Int], _ b: [Int], detail: String = "") -> String {
        "\(op): shape mismatch between \(a) and \(b)" + (detail.isEmpty ? "" : " (\(detail))")
    }
}

extension Tensor: CustomStringConvertible {
    /// Shape plus the first few values.
    public var description: String {
        let head = (0..<min(count, 8)).map { String(data[$0]) }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(head)\(count > 8 ? ", ..." : "")])"
    }
}

/// Tensors may cross threads. The contract that makes this safe: a tensor shared between threads is only
/// read (e.g. parameters used by several inference threads under `Tensor.withoutGrad`, where ops never
/// write to their inputs or to gradients); a tensor being written (training, an optimizer step) belongs to
/// one thread at a time.
extension Tensor: @unchecked Sendable {}
