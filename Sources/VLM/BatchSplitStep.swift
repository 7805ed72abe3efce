import Common
import Dispatch
import Foundation
import Tensors

/// Forward and backward of one training batch on two threads: data parallelism inside the process.
///
/// The batch is cut into `parts` contiguous blocks of examples; block 0 runs on `model`, each other block on
/// a replica whose weights are copied from `model` before the step, each on its own thread with its own
/// graph (Tensors' graphs are per tensor, so threads do not share one). Each block's mean loss is
/// back-propagated with the seed (its answer tokens / the batch's), so the summed gradient equals that of the
/// whole batch's mean loss, up to the order of the sums; the replicas' gradients are then added into
/// `model`'s. Every op inside a block runs on its block's thread: a `concurrentPerform` nested in another
/// one is run inline by libdispatch on a machine with as many cores as blocks, so the blocks do not fight
/// over the cores with the ops' own splitting, and the step pays one hand-over instead of one per op.
///
/// The cut does not depend on the machine (`parts` is fixed), so the same seed gives the same weights
/// on any core count; with one core the blocks simply run one after the other.
public final class BatchSplitStep {
    /// Blocks per batch.
    public static let parts = 2

    /// The model whose gradients the step leaves (`parameters()` order is shared with the replicas).
    public let model: VLMModel
    private let replicas: [VLMModel]
    private let mainParameters: [Tensor]
    private let replicaParameters: [[Tensor]]

    /// A step runner for `model` (allocates `parts - 1` replicas of the same config).
    /// - Throws: `VLMError.invalidConfig` if the model's config does not validate (it always does for a
    ///   constructed model).
    public init(model: VLMModel) throws {
        self.model = model
        replicas = try (1..<Self.parts).map { _ in try VLMModel(config: model.config, seed: 0) }
        mainParameters = model.parameters()
        replicaParameters = replicas.map { $0.parameters() }
    }

    /// Runs forward and backward of `batch` and adds d(mean answer-token loss)/d(parameters) into the
    /// gradients of `model`'s parameters (like `loss.backward()`; zero them before the step). Returns the
    /// batch's mean loss over its answer tokens (0 for a batch without answer tokens, which adds nothing).
    public func lossAndBackward(batch: [EncodedExample], images: [[Float]]) -> Float {
        let total = batch.reduce(0) { $0 + $1.answerTokenCount }
        guard batch.count >= Self.parts, total > 0 else {
            let (loss, _) = model.loss(batch: batch, images: images)
            loss.backward()
            return loss.item
        }
        // Replicas start from the model's current weights, with no gradient left from the last step.
        for params in replicaParameters {
            for (k, p) in params.enumerated() { p.copyValues(from: mainParameters[k]); p.zeroGrad() }
        }
        let n = batch.count
        let blocks = (0..<Self.parts).map { Array(batch[(n * $0 / Self.parts)..<(n * ($0 + 1) / Self.parts)]) }
        let values = UnsafeMutableBufferPointer<Float>.allocate(capacity: Self.parts)
        defer { values.deallocate() }
        values.initialize(repeating: 0)
        DispatchQueue.concurrentPerform(iterations: Self.parts) { k in
            let m = k == 0 ? model : replicas[k - 1]
            let (loss, counted) = m.loss(batch: blocks[k], images: images)
            let share = Float(counted) / Float(total)
            values[k] = loss.item * share
            loss.backward(seed: [share])
        }
        // model.grad += replica grads, each parameter's elements split over the cores.
        for (k, p) in mainParameters.enumerated() {
            let sources = replicaParameters.compactMap { $0[k].grad?.baseAddress }
            guard !sources.isEmpty else { continue }
            let G = p.gradBuffer().baseAddress!
            Parallel.forEach(p.count, minChunk: 1 << 15) { range in
                for S in sources { for i in range { G[i] += S[i] } }
            }
        }
        return values.reduce(0, +)
    }
}
