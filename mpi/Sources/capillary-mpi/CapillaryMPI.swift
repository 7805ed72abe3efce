import ArgumentParser
import Foundation
import MessagePassing

/// `capillary-mpi`: Capillary's training and cohort commands as one MPI job across processes or machines
/// (`mpirun -np N capillary-mpi COMMAND ...`; without mpirun it runs as a job of one rank). See docs/SCALING.md.
@main
struct CapillaryMPI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capillary-mpi",
        abstract: "Capillary on MPI: data-parallel training and sharded cohort processing (docs/SCALING.md).",
        discussion: """
            mpirun -np N capillary-mpi train-gnn|train-vlm ...   gradients averaged with MPI_Allreduce every step
            mpirun -np N capillary-mpi generate|graph|knowledge|stage --cohort ...   rank r takes manifest entries i % N == r
            As root, Open MPI needs --allow-run-as-root; on fewer cores than ranks, --oversubscribe.
            """,
        subcommands: [MPITrainGNNCommand.self, MPITrainVLMCommand.self, MPIGenerateCommand.self, MPIGraphCommand.self,
                      MPIKnowledgeCommand.self, MPIStageCommand.self, MPIBenchAllreduceCommand.self])
}

/// Runs one command body as an MPI job: initialises MPI, and when a rank fails, prints the error with its rank
/// and ends the whole job (MPI_Abort, so mpirun exits non-zero instead of the other ranks waiting forever).
enum MPIJob {
    static func run(_ body: (Communicator) throws -> Void) throws {
        let comm = try Communicator()
        do {
            try body(comm)
            try comm.finalize()
        } catch {
            if comm.size == 1 { try? comm.finalize(); throw error }
            FileHandle.standardError.write(Data("capillary-mpi: rank \(comm.rank) of \(comm.size) failed: \(error)\n".utf8))
            comm.abort(code: 1)
        }
    }

    /// A line on stderr prefixed with the rank (only rank 0 unless `everyRank`).
    static func note(_ comm: Communicator, _ text: String, everyRank: Bool = false) {
        guard everyRank || comm.isRoot else { return }
        FileHandle.standardError.write(Data("[rank \(comm.rank)/\(comm.size)] \(text)\n".utf8))
    }

    /// CPU seconds (user + system) this process has used so far.
    static func cpuSeconds() -> Double {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) / 1e6 + Double(u.ru_stime.tv_sec) + Double(u.ru_stime.tv_usec) / 1e6
    }

    /// CPU seconds since `start` (a `cpuSeconds()` reading) summed over the ranks and of the busiest rank
    /// (two allreduces; every rank must call it). On shared cores the busiest rank's CPU time is the critical
    /// path that wall time would show on dedicated ones.
    static func cpuAcrossRanks(_ comm: Communicator, since start: Double) throws -> (total: Double, maxRank: Double) {
        let mine = Int64((cpuSeconds() - start) * 1e6)
        var sum = [mine], peak = [mine]
        try comm.allreduceSum(&sum)
        try comm.allreduceMax(&peak)
        return (Double(sum[0]) / 1e6, Double(peak[0]) / 1e6)
    }
}
