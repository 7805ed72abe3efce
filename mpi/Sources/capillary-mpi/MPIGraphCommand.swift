import ArgumentParser
import Common
import Foundation
import MessagePassing
import Retina
import VesselGraph

/// `capillary-mpi graph --cohort DIR`: `capillary graph --cohort` with the manifest's images spread over the
/// ranks (image i on rank i % N). Each rank writes its graph JSON files and its biomarker rows; rank 0 merges
/// the rows into biomarkers.csv in manifest order. Same files, byte for byte, as `capillary graph --cohort`.
struct MPIGraphCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "graph",
        abstract: "Vessel graphs of a cohort across MPI ranks (same files as capillary graph --cohort).")

    @Option(help: "Cohort folder with manifest.jsonl.") var cohort: String
    @Option(name: .customLong("out-dir"), help: "Output folder (default DIR/graphs).") var outDir: String?
    @Option(name: .customLong("fov-mm"), help: "Field of view, mm (default: the manifest's fov_mm, else from the width).") var fovMM: Double?
    @Option(help: "Pipeline configuration JSON (VesselGraphConfig); defaults otherwise.") var config: String?

    static let keys = ["perfusion_density", "skeleton_length_density_mm_per_mm2", "faz_area_mm2", "faz_circularity",
                       "fractal_dimension", "vessel_segment_count", "ica_count"]

    func run() throws {
        var builderConfig = VesselGraphConfig()
        if let c = config {
            do { builderConfig = try JSONDecoder().decode(VesselGraphConfig.self, from: Data(contentsOf: URL(fileURLWithPath: c))) }
            catch { throw ValidationError("\(c): not a VesselGraphConfig JSON: \(error)") }
        }
        let builder = VesselGraphBuilder(config: builderConfig)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]  // key order must not depend on the process's hash seed
        let configText = String(decoding: (try? encoder.encode(builderConfig)) ?? Data(), as: UTF8.self)
        try MPIJob.run { comm in
            let t0 = Date(), cpu0 = MPIJob.cpuSeconds()
            let manifest = try CohortManifest.load(path: (cohort as NSString).appendingPathComponent("manifest.jsonl"))
            // Paths and fields of view exactly as `capillary graph --cohort` resolves them.
            let files = manifest.entries.map { $0.path.hasPrefix("/") ? $0.path : (cohort as NSString).appendingPathComponent($0.path) }
            let folder = outDir ?? (cohort as NSString).appendingPathComponent("graphs")
            if comm.isRoot {
                do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
                catch { throw ShardError.io(path: folder, reason: "cannot create: \(error.localizedDescription)") }
                CohortShards.removeAtomicWriteLeftovers(in: [folder])
            }
            try comm.barrier()
            let shards = try CohortShards(comm: comm, folder: (folder as NSString).appendingPathComponent(".mpi-shards"),
                                          fingerprint: "graph cohort=\(cohort) fov=\(fovMM.map { "\($0)" } ?? "-") config=\(configText)")
            let mine = shards.indices(count: files.count)
            try shards.runMine {
                var rows = [String](repeating: "", count: mine.count)
                let lock = NSLock()
                Parallel.forEach(mine.count, minChunk: 1) { range in
                    for j in range {
                        let i = mine[j], f = files[i]
                        var line: String
                        do {
                            var img = try ImageIO.read(path: f)
                            if let fov = fovMM ?? manifest.entries[i].fovMM { img.pixelSizeMM = fov / Double(img.width) }
                            let g = try builder.build(img)
                            let stem = ((f as NSString).lastPathComponent as NSString).deletingPathExtension
                            try CohortShards.write(g.jsonData(), to: (folder as NSString).appendingPathComponent(stem + ".graph.json"))
                            line = "\(i)\tok\t" + ([f] + Self.keys.map { String(format: "%.6g", g.biomarkers[$0] ?? 0) }).joined(separator: ",")
                        } catch {
                            line = "\(i)\terror\t\(f): \(error)".replacingOccurrences(of: "\n", with: " ")
                        }
                        lock.lock(); rows[j] = line; lock.unlock()
                    }
                }
                try CohortShards.write(Data(rows.map { $0 + "\n" }.joined().utf8), to: shards.file("rows", shard: comm.rank))
                MPIJob.note(comm, "shard \(comm.rank): \(mine.count) images", everyRank: true)
            }
            let cpu = try MPIJob.cpuAcrossRanks(comm, since: cpu0)
            guard comm.isRoot else { return }
            var byIndex: [Int: (ok: Bool, text: String)] = [:]
            for s in 0..<comm.size {
                let text = String(decoding: try CohortShards.read(shards.file("rows", shard: s)), as: UTF8.self)
                for line in text.split(separator: "\n") {
                    let parts = line.split(separator: "\t", maxSplits: 2).map(String.init)
                    guard parts.count == 3, let i = Int(parts[0]) else { throw ShardError.io(path: shards.file("rows", shard: s), reason: "bad line \(line)") }
                    byIndex[i] = (parts[1] == "ok", parts[2])
                }
            }
            let rows = files.indices.compactMap { byIndex[$0] }
            guard rows.count == files.count else {
                throw ShardError.io(path: shards.folder, reason: "the shards hold \(rows.count) of \(files.count) images")
            }
            let csv = (["image," + Self.keys.joined(separator: ",")] + rows.filter(\.ok).map(\.text)).joined(separator: "\n") + "\n"
            try CohortShards.write(Data(csv.utf8), to: (folder as NSString).appendingPathComponent("biomarkers.csv"))
            shards.finish()
            let failed = rows.filter { !$0.ok }.map(\.text)
            for e in failed { FileHandle.standardError.write(Data("capillary-mpi: \(e)\n".utf8)) }
            print(String(format: "%d/%d images -> %@ (%.1f s on %d ranks; CPU %.1f s all ranks, %.1f s busiest rank)", rows.count - failed.count, files.count, folder,
                         Date().timeIntervalSince(t0), comm.size, cpu.total, cpu.maxRank))
            if !failed.isEmpty { throw ShardError.failedEntries(failed) }
        }
    }
}
