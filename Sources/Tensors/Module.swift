/// A neural-network building block with named parameters, buffers and child modules.
///
/// Names are stable and dotted like PyTorch's state_dict keys: a child registered as `"encoder"` that holds
/// a list child `"layers"` whose element 0 has a parameter `"weight"` yields `encoder.layers.0.weight`.
/// Implement `localParameters` (and `localBuffers` / `children` when there are any); everything else
/// (enumeration, zeroing gradients, train/eval, save/load) comes from the extension.
public protocol Module: AnyObject {
    /// This module's own trainable tensors, in a fixed order, with local names ("weight", "bias").
    var localParameters: [(String, Tensor)] { get }
    /// This module's own non-trainable state saved with the weights (e.g. BatchNorm running statistics).
    var localBuffers: [(String, Tensor)] { get }
    /// Sub-modules, in a fixed order, with local names ("encoder", "0").
    var children: [(String, Module)] { get }
    /// Switches train/eval behaviour of this module only (BatchNorm, Dropout); `setTraining` recurses.
    func setLocalTraining(_ training: Bool)
}

extension Module {
    /// No buffers by default.
    public var localBuffers: [(String, Tensor)] { [] }
    /// No children by default.
    public var children: [(String, Module)] { [] }
    /// No train/eval difference by default.
    public func setLocalTraining(_ training: Bool) {}

    /// All parameters with dotted names, depth first (own tensors, then children in order).
    public func namedParameters(prefix: String = "") -> [(name: String, tensor: Tensor)] {
        var out: [(name: String, tensor: Tensor)] = localParameters.map { (prefix + $0.0, $0.1) }
        for (name, child) in children { out += child.namedParameters(prefix: prefix + name + ".") }
        return out
    }

    /// All buffers with dotted names, depth first.
    public func namedBuffers(prefix: String = "") -> [(name: String, tensor: Tensor)] {
        var out: [(name: String, tensor: Tensor)] = localBuffers.map { (prefix + $0.0, $0.1) }
        for (name, child) in children { out += child.namedBuffers(prefix: prefix + name + ".") }
        return out
    }

    /// Parameters then buffers: everything a checkpoint must hold, by name.
    public func stateDict() -> [(name: String, tensor: Tensor)] { namedParameters() + namedBuffers() }

    /// The trainable tensors (for an optimizer).
    public func parameters() -> [Tensor] { namedParameters().map(\.tensor) }

    /// Total number of trainable scalars.
    public var parameterCount: Int { parameters().reduce(0) { $0 + $1.count } }

    /// Zeroes every parameter's gradient.
    public func zeroGrad() { for p in parameters() { p.zeroGrad() } }

    /// Sets train (true) or eval (false) mode on this module and all descendants.
    public func setTraining(_ training: Bool) {
        setLocalTraining(training)
        for (_, child) in children { child.setTraining(training) }
    }
}

/// An ordered list of modules named "0", "1", ... (PyTorch's ModuleList).
public final class ModuleList<M: Module>: Module {
    /// The modules, in order.
    public var items: [M]
    /// A list holding `items`.
    public init(_ items: [M]) { self.items = items }
    /// None of its own.
    public var localParameters: [(String, Tensor)] { [] }
    /// The items, named by position.
    public var children: [(String, Module)] { items.enumerated().map { (String($0.offset), $0.element as Module) } }
    /// The module at `i`.
    public subscript(i: Int) -> M { items[i] }
    /// Number of modules.
    public var count: Int { items.count }
}
