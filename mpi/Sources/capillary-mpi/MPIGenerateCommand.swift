import ArgumentParser
import Common
import Foundation
import MessagePassing
import Retina

/// `capillary-mpi generate`: `capillary generate` with the eyes spread over the ranks (eye i on rank i % N);
/// rank 0 writes manifest.jsonl/.csv once every shard is done. Same files, byte for byte, as one process.
struct MPIGenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate a synthetic OCTA cohort across MPI ranks (same bytes as capillary generate).")

    @Option(help: "Number of images.") var count: Int
    @Option(help: "Cohort seed.") var seed: UInt64 = 1
    @Option(help: "Output folder (created).") var out: String
    @Option(help: "Stage mix, e.g. healthy:0.4,npdr:0.35,pdr:0.25.") var stages: String = "healthy:0.4,npdr:0.35,pdr:0.25"
    @Option(help: "Image size, px (square).") var size: Int = 304
    @Option(name: .customLong("fov-mm"), help: "Field of view, mm.") var fovMM: Double = 3
    @Option(help: "Slab: superficial, deep or combined.") var plexus: String = "superficial"

    func run() throws {
        guard count >= 1 && count <= 1_000_000 else { throw ValidationError("--count must be 1...1000000, got \(count)") }
        guard let slab = Plexus(rawValue: plexus) else { throw ValidationError("--plexus must be superficial, deep or combined, got \(plexus)") }
        let config = SimulatorConfig(sizePX: size, fovMM: fovMM, plexus: slab)
        if let problem = config.validationError() { throw ValidationError(problem) }
        let mix = try StageMix(parsing: stages)
        try MPIJob.run { comm in
            let t0 = Date(), cpu0 = MPIJob.cpuSeconds()
            if comm.isRoot {
                for sub in ["", "images", "masks", "meta"] {
                    let p = (out as NSString).appendingPathComponent(sub)
                    do { try FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true) }
                    catch { throw CohortError.io(path: p, reason: "cannot create folder: \(error.localizedDescription)") }
                }
                CohortShards.removeAtomicWriteLeftovers(in: ["images", "masks", "meta"].map { (out as NSString).appendingPathComponent($0) })
            }
            try comm.barrier()
            let shards = try CohortShards(comm: comm, folder: (out as NSString).appendingPathComponent(".mpi-shards"),
                                          fingerprint: "generate count=\(count) seed=\(seed) stages=\(stages) size=\(size) fov=\(fovMM) plexus=\(plexus)")
            let eyes = CohortGenerator.plan(count: count, seed: seed, mix: mix)
            let sim = CohortGenerator(config: config).simulator
            let mine = shards.indices(count: eyes.count)
            try shards.runMine {
                let errors = ErrorList()
                Parallel.forEach(mine.count, minChunk: 1) { range in
                    for j in range {
                        let e = eyes[mine[j]]
                        let eye = sim.generate(seed: e.seed, severity: e.severity)
                        let entry = CohortGenerator.entry(for: e, fovMM: fovMM)
                        func p(_ rel: String) -> String { (out as NSString).appendingPathComponent(rel) }
                        do {
                            try ImageIO.writePNG(eye.image, to: p(entry.path))
                            try ImageIO.writePNG(eye.vesselMask, to: p(entry.vesselMaskPath!))
                            try ImageIO.writePNG(eye.fazMask, to: p(entry.fazMaskPath!))
                            try ImageIO.writePNG(eye.dropoutMask, to: p(entry.dropoutMaskPath!))
                            try CohortShards.write(try CohortGenerator.metadataJSON(eye.truth), to: p(entry.metaPath!))
                        } catch { errors.add(mine[j], "\(e.id): \(error)") }
                    }
                }
                try errors.check()
                MPIJob.note(comm, "shard \(comm.rank): \(mine.count) eyes", everyRank: true)
            }
            let cpu = try MPIJob.cpuAcrossRanks(comm, since: cpu0)
            if comm.isRoot {
                try CohortManifest(root: out, entries: eyes.map { CohortGenerator.entry(for: $0, fovMM: fovMM) }).save()
                shards.finish()
                print(String(format: "wrote %d images to %@ on %d ranks in %.1f s; CPU %.1f s all ranks, %.1f s busiest rank", count, out, comm.size, Date().timeIntervalSince(t0), cpu.total, cpu.maxRank))
            }
        }
    }
}

/// Per-entry failures collected from worker threads, reported in manifest order.
final class ErrorList: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [(Int, String)] = []

    func add(_ index: Int, _ message: String) { lock.lock(); items.append((index, message)); lock.unlock() }

    var messages: [String] { lock.lock(); defer { lock.unlock() }; return items.sorted { $0.0 < $1.0 }.map(\.1) }

    /// - Throws: `ShardError.failedEntries` if anything failed.
    func check() throws { let m = messages; if !m.isEmpty { throw ShardError.failedEntries(m) } }
}
