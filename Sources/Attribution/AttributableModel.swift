import GraphNet
import Tensors
import VesselGraph

/// A differentiable graph classifier that integrated gradients can explain: it batches graphs into
/// GraphNet's disjoint-union `GraphBatch` (z-scored features) and maps a batch to class logits
/// [graphCount, classCount], with optional per-edge masks multiplying the messages.
///
/// `StagingModel` (the trained GNN) conforms; tests also use tiny linear models whose exact integrated
/// gradients are known. Implementations must be pure functions of the batch (no dropout, no state), so that
/// copies of one graph in a batch are independent and the result does not depend on the batch size.
public protocol AttributableModel: AnyObject {
    /// Class names, index = logit column.
    var classNames: [String] { get }
    /// Feature names, transforms and training statistics (z-scored zero = training mean).
    var normalizer: FeatureNormalizer { get }
    /// The normalised union of `graphs`.
    /// - Throws: `GraphNetError.featureMismatch` if a graph's feature columns differ from the model's.
    func makeBatch(_ graphs: [OCTAGraph]) throws -> GraphBatch
    /// Class logits [batch.graphCount, classCount]; records an autodiff graph per the thread's grad mode.
    /// `edgeMasks`: nil (real graph) or one [E_r] tensor per relation in `GraphSchema.relations` order.
    func logits(_ batch: GraphBatch, edgeMasks: [Tensor]?) -> Tensor
}

extension StagingModel: AttributableModel {
    /// See `AttributableModel`: `batch(_:)`.
    public func makeBatch(_ graphs: [OCTAGraph]) throws -> GraphBatch { try batch(graphs) }

    /// See `AttributableModel`: the network's inference forward pass (no dropout).
    public func logits(_ batch: GraphBatch, edgeMasks: [Tensor]?) -> Tensor {
        network.forward(batch, edgeMasks: edgeMasks, mode: .inference)
    }
}
