import Common
import Tensors

/// A container of named child modules (PyTorch's ModuleDict), so weight names read like
/// `layers.0.vessel.linear.weight`. Children keep the order given.
final class NamedModules: Module {
    let items: [(String, Module)]
    init(_ items: [(String, Module)]) { self.items = items }
    var localParameters: [(String, Tensor)] { [] }
    var children: [(String, Module)] { items }
}

/// One node type's update in a message-passing layer: a single linear map of [h_i, mean_r1, mean_r2, ...]
/// (the root term and every incoming relation's term in one matrix product), then LayerNorm.
final class TypeUpdate: Module {
    let linear: Linear
    let norm: LayerNorm
    init(inputs: Int, hidden: Int, generator: inout SeededGenerator) {
        linear = Linear(inputs * hidden, hidden, generator: &generator)
        norm = LayerNorm(hidden)
    }
    var localParameters: [(String, Tensor)] { [] }
    var children: [(String, Module)] { [("linear", linear), ("norm", norm)] }
}
