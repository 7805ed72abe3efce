import CMPI

/// A thin typed wrapper over MPI_COMM_WORLD: rank and size, in-place collectives on Swift arrays, and abort.
///
/// Call collectives from one thread only (MPI is initialised with MPI_THREAD_FUNNELED: the numeric code
/// may run worker threads, but only the main thread talks to MPI). Every rank must call the same
/// collectives in the same order with buffers of the same length, as MPI requires.
public final class Communicator {
    /// This process's rank in MPI_COMM_WORLD, 0..<size.
    public let rank: Int
    /// Number of processes in MPI_COMM_WORLD.
    public let size: Int
    private var live = true
    private let comm = capillary_mpi_comm_world()

    /// Initialises MPI (once per process) and switches MPI_COMM_WORLD to returning errors instead of aborting.
    /// Started without mpirun, the process is a job of one rank (MPI singleton).
    /// - Throws: `MPIError.call` if MPI cannot start.
    public init() throws {
        var provided: Int32 = 0
        try Self.check("MPI_Init_thread", MPI_Init_thread(nil, nil, capillary_mpi_thread_funneled(), &provided))
        let comm = capillary_mpi_comm_world()
        try Self.check("MPI_Comm_set_errhandler", MPI_Comm_set_errhandler(comm, capillary_mpi_errors_return()))
        var r: Int32 = 0, s: Int32 = 0
        try Self.check("MPI_Comm_rank", MPI_Comm_rank(comm, &r))
        try Self.check("MPI_Comm_size", MPI_Comm_size(comm, &s))
        rank = Int(r); size = Int(s)
    }

    /// Whether this is rank 0 (the one that writes shared outputs).
    public var isRoot: Bool { rank == 0 }

    /// Waits until every rank has called it.
    /// - Throws: `MPIError`.
    public func barrier() throws {
        try alive()
        try Self.check("MPI_Barrier", MPI_Barrier(comm))
    }

    /// Element-wise sum of `buffer` over all ranks, in place on every rank (MPI_Allreduce, MPI_IN_PLACE).
    /// - Throws: `MPIError`.
    public func allreduceSum(_ buffer: inout [Float]) throws {
        try allreduce(&buffer, type: capillary_mpi_float(), op: capillary_mpi_sum(), "MPI_Allreduce(sum, float)")
    }

    /// Element-wise mean over all ranks, in place: the sum, then scaled by 1/size.
    /// - Throws: `MPIError`.
    public func allreduceMean(_ buffer: inout [Float]) throws {
        try allreduceSum(&buffer)
        let s = 1 / Float(size)
        for i in buffer.indices { buffer[i] *= s }
    }

    /// Element-wise sum of 64-bit integers over all ranks, in place.
    /// - Throws: `MPIError`.
    public func allreduceSum(_ buffer: inout [Int64]) throws {
        try allreduce(&buffer, type: capillary_mpi_int64(), op: capillary_mpi_sum(), "MPI_Allreduce(sum, int64)")
    }

    /// Element-wise maximum of 64-bit integers over all ranks, in place.
    /// - Throws: `MPIError`.
    public func allreduceMax(_ buffer: inout [Int64]) throws {
        try allreduce(&buffer, type: capillary_mpi_int64(), op: capillary_mpi_max(), "MPI_Allreduce(max, int64)")
    }

    /// Copies `root`'s `buffer` to every rank (MPI_Bcast); every rank passes a buffer of the same length.
    /// - Throws: `MPIError.invalidArgument` for a root outside 0..<size, `.call`.
    public func broadcast(_ buffer: inout [Float], root: Int = 0) throws {
        try checkRoot(root, "MPI_Bcast")
        try alive()
        try buffer.withUnsafeMutableBufferPointer { b in
            try Self.chunks(b.count) { lo, n in
                try Self.check("MPI_Bcast(float)", MPI_Bcast(b.baseAddress! + lo, n, capillary_mpi_float(), Int32(root), comm))
            }
        }
    }

    /// Copies `root`'s bytes to every rank; the length travels first, so other ranks may pass any array.
    /// - Throws: `MPIError`.
    public func broadcast(bytes: inout [UInt8], root: Int = 0) throws {
        try checkRoot(root, "MPI_Bcast")
        try alive()
        var length: [Int64] = [rank == root ? Int64(bytes.count) : 0]
        try length.withUnsafeMutableBufferPointer { b in
            try Self.check("MPI_Bcast(length)", MPI_Bcast(b.baseAddress!, 1, capillary_mpi_int64(), Int32(root), comm))
        }
        if rank != root { bytes = [UInt8](repeating: 0, count: Int(length[0])) }
        try bytes.withUnsafeMutableBufferPointer { b in
            try Self.chunks(b.count) { lo, n in
                try Self.check("MPI_Bcast(bytes)", MPI_Bcast(b.baseAddress! + lo, n, capillary_mpi_byte(), Int32(root), comm))
            }
        }
    }

    /// Ends the whole job: every rank is killed and mpirun exits with `code` (MPI_Abort). For a failure on one
    /// rank that the others cannot learn about (they would wait forever in the next collective).
    public func abort(code: Int32) -> Never {
        MPI_Abort(comm, code)
        fatalError("MPI_Abort returned")
    }

    /// Shuts MPI down (MPI_Finalize); the communicator cannot be used afterwards.
    /// - Throws: `MPIError`.
    public func finalize() throws {
        guard live else { return }
        live = false
        try Self.check("MPI_Finalize", MPI_Finalize())
    }

    // MARK: - internals

    private func allreduce<T>(_ buffer: inout [T], type: MPI_Datatype, op: MPI_Op, _ name: String) throws {
        try alive()
        try buffer.withUnsafeMutableBufferPointer { b in
            try Self.chunks(b.count) { lo, n in
                try Self.check(name, MPI_Allreduce(capillary_mpi_in_place(), b.baseAddress! + lo, n, type, op, comm))
            }
        }
    }

    private func alive() throws { if !live { throw MPIError.finalized } }

    private func checkRoot(_ root: Int, _ f: String) throws {
        guard root >= 0 && root < size else { throw MPIError.invalidArgument(function: f, reason: "root \(root) is not a rank of 0..<\(size)") }
    }

    /// MPI counts are 32-bit: long buffers go in pieces of at most 2^30 elements.
    private static func chunks(_ count: Int, _ body: (Int, Int32) throws -> Void) throws {
        var lo = 0
        let piece = 1 << 30
        repeat {
            let n = min(piece, count - lo)
            try body(lo, Int32(n))
            lo += n
        } while lo < count
    }

    private static func check(_ function: String, _ code: Int32) throws {
        guard code != capillary_mpi_success() else { return }
        var text = [CChar](repeating: 0, count: Int(capillary_mpi_max_error_string()) + 1)
        var length: Int32 = 0
        _ = MPI_Error_string(code, &text, &length)
        throw MPIError.call(function: function, code: code, message: String(cString: text))
    }
}
