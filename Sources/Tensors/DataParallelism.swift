/// How a trainer takes part in data-parallel training across processes (e.g. the ranks of an MPI job).
///
/// Every process runs the same trainer with the same seed, so all agree on the data order and on each
/// global batch; each takes its contiguous block of the batch (`shard`), runs forward and backward on it
/// with its loss scaled by its share of the batch's normaliser, and `sumAcrossProcesses` adds the gradients
/// of all processes, so every process holds the gradient of the whole batch before clipping and the
/// optimizer step. The transport (MPI, anything else) lives outside the trainers; `nil` = one process.
public struct DataParallelism {
    /// This process's index, 0..<size.
    public let rank: Int
    /// Number of processes.
    public let size: Int
    /// Adds, element-wise across all processes, the gradients of `parameters` (in place; a parameter
    /// without a gradient counts as zeros and gets one) and `scalars`; returns the summed scalars.
    /// Called by every process at the same points, with the same parameters in the same order: once per
    /// optimizer step, and with no parameters to gather per-sample results (e.g. validation probabilities).
    public let sumAcrossProcesses: (_ parameters: [Tensor], _ scalars: [Float]) throws -> [Float]
    /// Overwrites `tensors` with process 0's values (called once before the first step, so all processes
    /// start from bit-identical weights whatever their initialisation did).
    public let copyFromRoot: (_ tensors: [Tensor]) throws -> Void

    /// A description of one process of `size`.
    /// - Precondition: 0 <= rank < size (a programmer error otherwise).
    public init(rank: Int, size: Int,
                sumAcrossProcesses: @escaping (_ parameters: [Tensor], _ scalars: [Float]) throws -> [Float],
                copyFromRoot: @escaping (_ tensors: [Tensor]) throws -> Void) {
        precondition(size >= 1 && rank >= 0 && rank < size, "DataParallelism: rank \(rank) of \(size)")
        self.rank = rank; self.size = size
        self.sumAcrossProcesses = sumAcrossProcesses; self.copyFromRoot = copyFromRoot
    }

    /// This process's contiguous block of a global batch: elements [n*rank/size, n*(rank+1)/size).
    /// Empty when the batch has fewer elements than processes and this rank gets none.
    public func shard<T>(_ batch: [T]) -> [T] {
        let n = batch.count
        return Array(batch[(n * rank / size)..<(n * (rank + 1) / size)])
    }
}
