import Foundation
import MessagePassing

/// Errors of the sharded cohort commands.
enum ShardError: Error, CustomStringConvertible {
    /// A shard's done marker is missing after all ranks returned (its rank died or failed before finishing).
    case missing(shard: Int, of: Int, marker: String)
    /// A shard's output file cannot be read or written.
    case io(path: String, reason: String)
    /// Entries of a shard failed (the messages name the images).
    case failedEntries([String])

    var description: String {
        switch self {
        case .missing(let s, let n, let m):
            return "shard \(s) of \(n) did not finish (no marker \(m)): its rank died or failed; rerun the same command, finished shards are skipped"
        case .io(let p, let r): return "\(p): \(r)"
        case .failedEntries(let e): return "\(e.count) entries failed:\n" + e.joined(separator: "\n")
        }
    }
}

/// The shard bookkeeping of one sharded cohort command: rank r of N owns the manifest entries with
/// index % N == r; it writes its outputs, then a done marker (atomically, last) in `folder`; a rerun with the
/// same command, options and N skips the shards whose marker matches; rank 0 merges only when every marker
/// is there, then removes the folder.
struct CohortShards {
    let comm: Communicator
    /// Folder of markers and per-shard outputs.
    let folder: String
    /// What must match for a marker to count (command + options that change the outputs).
    let fingerprint: String

    init(comm: Communicator, folder: String, fingerprint: String) throws {
        self.comm = comm; self.folder = folder; self.fingerprint = fingerprint
        do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        catch { throw ShardError.io(path: folder, reason: "cannot create the shard folder: \(error.localizedDescription)") }
    }

    /// Manifest indices (0..<count) this rank owns.
    func indices(count: Int) -> [Int] { Array(stride(from: comm.rank, to: count, by: comm.size)) }

    /// Path of a per-shard output file `name` of shard `shard`.
    func file(_ name: String, shard: Int) -> String {
        (folder as NSString).appendingPathComponent("\(name)-\(shard)-of-\(comm.size)")
    }

    func marker(_ shard: Int) -> String { file("done", shard: shard) }

    /// Whether this rank's shard finished in an earlier run with the same fingerprint.
    var mineIsDone: Bool { isDone(comm.rank) }

    func isDone(_ shard: Int) -> Bool {
        guard let d = FileManager.default.contents(atPath: marker(shard)) else { return false }
        return String(decoding: d, as: UTF8.self) == fingerprint + "\n"
    }

    /// Marks this rank's shard finished (call after all its outputs are written).
    func markMineDone() throws { try Self.write(Data((fingerprint + "\n").utf8), to: marker(comm.rank)) }

    /// Runs this rank's shard unless it is already done, then waits for all ranks; on rank 0 checks every
    /// marker. Returns whether this rank skipped its shard.
    @discardableResult
    func runMine(_ body: () throws -> Void) throws -> Bool {
        let skipped = mineIsDone
        if comm.isRoot {
            let todo = (0..<comm.size).filter { !isDone($0) }
            let done = comm.size - todo.count
            if done > 0 { MPIJob.note(comm, "\(done) of \(comm.size) shards finished in an earlier run; to do: \(todo.map(String.init).joined(separator: ", "))") }
        }
        if skipped {
            MPIJob.note(comm, "shard \(comm.rank) of \(comm.size) already done in an earlier run: skipped", everyRank: true)
        } else {
            try body()
            try markMineDone()
        }
        try comm.barrier()
        if comm.isRoot {
            for s in 0..<comm.size where !isDone(s) { throw ShardError.missing(shard: s, of: comm.size, marker: marker(s)) }
        }
        return skipped
    }

    /// Removes the shard folder (rank 0, after a successful merge).
    func finish() { try? FileManager.default.removeItem(atPath: folder) }

    /// Removes the temporary files that Foundation's atomic writes (`.dat.nosync*`, renamed into place when
    /// complete) leave behind when their process is killed mid-write, so that a rerun after a dead rank leaves
    /// the same folder as an uninterrupted run. Call on one rank while no rank writes (before a barrier).
    static func removeAtomicWriteLeftovers(in folders: [String]) {
        let fm = FileManager.default
        for folder in folders {
            for name in (try? fm.contentsOfDirectory(atPath: folder)) ?? [] where name.hasPrefix(".dat.nosync") {
                try? fm.removeItem(atPath: (folder as NSString).appendingPathComponent(name))
            }
        }
    }

    static func write(_ data: Data, to path: String) throws {
        do { try data.write(to: URL(fileURLWithPath: path), options: .atomic) }
        catch { throw ShardError.io(path: path, reason: "cannot write: \(error.localizedDescription)") }
    }

    static func read(_ path: String) throws -> Data {
        guard let d = FileManager.default.contents(atPath: path) else { throw ShardError.io(path: path, reason: "cannot read") }
        return d
    }
}
