import ArgumentParser
import Foundation
import MessagePassing

/// `capillary-mpi bench-allreduce`: time of one in-place MPI_Allreduce (sum) of a Float buffer of the sizes the
/// trainers send each step, on whatever transport mpirun picked (shared memory on one machine).
struct MPIBenchAllreduceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-allreduce",
        abstract: "Time MPI_Allreduce of Float buffers (bytes given, rounded to whole floats); prints a table and JSON.")

    @Option(help: "Comma-separated buffer sizes, bytes.") var bytes: String = "34400,346052,4000000"
    @Option(help: "Timed calls per size (after 5 warm-up calls).") var repeats: Int = 200
    @Option(help: "Write the JSON here (rank 0).") var out: String?

    func run() throws {
        let sizes = bytes.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !sizes.isEmpty, sizes.allSatisfy({ $0 >= 4 }) else { throw ValidationError("--bytes must list sizes >= 4, got \(bytes)") }
        guard repeats >= 1 else { throw ValidationError("--repeats must be >= 1") }
        try MPIJob.run { comm in
            var rows: [[String: Any]] = []
            for b in sizes {
                var buffer = [Float](repeating: 1, count: b / 4)
                for _ in 0..<5 { try comm.allreduceSum(&buffer) }
                try comm.barrier()
                var times: [Double] = []
                for _ in 0..<repeats {
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    try comm.allreduceSum(&buffer)
                    times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e3)
                }
                times.sort()
                rows.append(["bytes": b / 4 * 4, "median_us": times[times.count / 2], "p10_us": times[times.count / 10],
                             "p90_us": times[min(times.count - 1, times.count * 9 / 10)]])
            }
            guard comm.isRoot else { return }
            print("| ranks | bytes | median us | p10 us | p90 us |\n|---|---|---|---|---|")
            for r in rows {
                print(String(format: "| %d | %d | %.1f | %.1f | %.1f |", comm.size, r["bytes"] as! Int, r["median_us"] as! Double,
                             r["p10_us"] as! Double, r["p90_us"] as! Double))
            }
            if let out {
                let d = try JSONSerialization.data(withJSONObject: ["ranks": comm.size, "repeats": repeats, "rows": rows], options: [.prettyPrinted, .sortedKeys])
                try CohortShards.write(d, to: out)
            }
        }
    }
}
