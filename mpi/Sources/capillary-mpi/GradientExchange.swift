import Foundation
import MessagePassing
import Tensors

/// The MPI side of `DataParallelism`: one flat Float buffer per step holding every gradient, one
/// has-gradient flag per parameter and the step's scalars, summed with a single MPI_Allreduce; and the
/// initial weights broadcast from rank 0. Counts the bytes and the wall time spent in MPI.
final class GradientExchange {
    let comm: Communicator
    /// Bytes of the last step's allreduce buffer (4 per gradient element + 4 per parameter flag + 4 per scalar).
    private(set) var bytesPerStep = 0
    /// Allreduce calls so far (one per optimizer step).
    private(set) var steps = 0
    /// Wall seconds inside MPI_Allreduce, steps and validation exchanges (includes waiting for slower ranks).
    private(set) var allreduceSeconds = 0.0
    private var buffer: [Float] = []

    init(comm: Communicator) { self.comm = comm }

    /// The hook for the trainers.
    var parallelism: DataParallelism {
        DataParallelism(rank: comm.rank, size: comm.size,
                        sumAcrossProcesses: { [unowned self] p, s in try self.sum(p, s) },
                        copyFromRoot: { [unowned self] t in try self.copyFromRoot(t) })
    }

    /// Sums gradients (in place) and scalars over all ranks with one allreduce.
    func sum(_ parameters: [Tensor], _ scalars: [Float]) throws -> [Float] {
        let elements = parameters.reduce(0) { $0 + $1.count }
        let n = elements + parameters.count + scalars.count
        if buffer.count != n { buffer = [Float](repeating: 0, count: n) }
        var o = 0
        buffer.withUnsafeMutableBufferPointer { b in
            for p in parameters {
                if let g = p.grad { _ = UnsafeMutableBufferPointer(rebasing: b[o..<(o + p.count)]).update(fromContentsOf: g) }
                else { UnsafeMutableBufferPointer(rebasing: b[o..<(o + p.count)]).update(repeating: 0) }
                o += p.count
            }
            for (k, p) in parameters.enumerated() { b[elements + k] = p.grad == nil ? 0 : 1 }
            for (k, v) in scalars.enumerated() { b[elements + parameters.count + k] = v }
        }
        let t0 = DispatchTime.now().uptimeNanoseconds
        try comm.allreduceSum(&buffer)
        allreduceSeconds += Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        // Optimizer steps carry parameters; a parameter-less call (the validation probabilities) is not a step.
        if !parameters.isEmpty { bytesPerStep = n * MemoryLayout<Float>.size; steps += 1 }
        o = 0
        buffer.withUnsafeBufferPointer { b in
            for (k, p) in parameters.enumerated() {
                // A parameter no rank touched keeps no gradient, as in one process (the optimizer skips it).
                if b[elements + k] > 0 {
                    _ = p.gradBuffer().update(fromContentsOf: UnsafeBufferPointer(rebasing: b[o..<(o + p.count)]))
                }
                o += p.count
            }
        }
        return Array(buffer[(elements + parameters.count)...])
    }

    /// Overwrites `tensors` with rank 0's values (one broadcast of one flat buffer).
    func copyFromRoot(_ tensors: [Tensor]) throws {
        guard comm.size > 1 else { return }
        var flat = tensors.flatMap(\.array)
        try comm.broadcast(&flat, root: 0)
        var o = 0
        for t in tensors {
            _ = t.data.update(fromContentsOf: flat[o..<(o + t.count)])
            o += t.count
        }
    }
}
