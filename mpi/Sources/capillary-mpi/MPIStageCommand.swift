import ArgumentParser
import Common
import Foundation
import GraphNet
import MessagePassing
import Retina
import VesselGraph

/// `capillary-mpi stage --cohort DIR --store S --out predictions.jsonl`: stages every image of a cohort with a
/// stored GraphNet model, the images spread over the ranks (image i on rank i % N); rank 0 merges the
/// predictions into one JSONL file in manifest order (the same bytes whatever the number of ranks).
struct MPIStageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stage",
        abstract: "Stage every image of a cohort with a stored GNN across MPI ranks (one predictions JSONL).")

    @Option(help: "Cohort folder with manifest.jsonl.") var cohort: String
    @Option(help: "Model store folder.") var store: String
    @Option(help: "Model name.") var name: String = "graphnet"
    @Option(help: "Model version (default: the latest when the job starts, the same on every rank).") var version: Int?
    @Option(help: "Output JSONL: one line per image {id, image, stage, class_index, probabilities, label, split}.") var out: String

    func run() throws {
        try MPIJob.run { comm in
            let t0 = Date(), cpu0 = MPIJob.cpuSeconds()
            // Rank 0 picks the version so that a model stored mid-job cannot split the ranks between two versions.
            var v: [Int64] = [0]
            if comm.isRoot { v[0] = Int64(try version ?? ModelStore(root: store).load(StagingModel.self, name: name).info.version) }
            try comm.allreduceMax(&v)
            let chosen = Int(v[0])
            let (model, info) = try ModelStore(root: store).load(StagingModel.self, name: name, version: chosen)
            let manifest = try CohortManifest.load(path: (cohort as NSString).appendingPathComponent("manifest.jsonl"))
            let shards = try CohortShards(comm: comm, folder: out + ".mpi-shards",
                                          fingerprint: "stage cohort=\(cohort) model=\(info.path)")
            let mine = shards.indices(count: manifest.entries.count)
            let builder = VesselGraphBuilder(config: model.storedConfig.builder)
            try shards.runMine {
                var lines = [String](repeating: "", count: mine.count)
                let errors = ErrorList()
                let lock = NSLock()
                Parallel.forEach(mine.count, minChunk: 1) { range in
                    for j in range {
                        let e = manifest.entries[mine[j]]
                        do {
                            var img = try ImageIO.read(path: manifest.resolve(e.path))
                            if let fov = e.fovMM { img.pixelSizeMM = fov / Double(img.width) }
                            let p = try model.predict([try builder.build(img)])[0]
                            var o: [String: Any] = ["id": e.id, "image": e.path, "stage": p.className, "class_index": p.classIndex,
                                                    "probabilities": Dictionary(uniqueKeysWithValues: zip(model.classNames, p.probabilities))]
                            if let l = e.label { o["label"] = l.rawValue }
                            if let s = e.split { o["split"] = s.rawValue }
                            let d = try JSONSerialization.data(withJSONObject: o, options: [.sortedKeys, .withoutEscapingSlashes])
                            lock.lock(); lines[j] = "\(mine[j])\t" + String(decoding: d, as: UTF8.self); lock.unlock()
                        } catch { errors.add(mine[j], "\(e.path): \(error)") }
                    }
                }
                try errors.check()
                try CohortShards.write(Data(lines.map { $0 + "\n" }.joined().utf8), to: shards.file("predictions", shard: comm.rank))
                MPIJob.note(comm, "shard \(comm.rank): \(mine.count) images", everyRank: true)
            }
            let cpu = try MPIJob.cpuAcrossRanks(comm, since: cpu0)
            guard comm.isRoot else { return }
            var byIndex: [Int: Substring] = [:]
            for s in 0..<comm.size {
                let path = shards.file("predictions", shard: s)
                let text = String(decoding: try CohortShards.read(path), as: UTF8.self)
                for line in text.split(separator: "\n") {
                    guard let tab = line.firstIndex(of: "\t"), let i = Int(line[..<tab]) else { throw ShardError.io(path: path, reason: "bad line \(line)") }
                    byIndex[i] = line[line.index(after: tab)...]
                }
            }
            let ordered = manifest.entries.indices.compactMap { byIndex[$0] }
            guard ordered.count == manifest.entries.count else {
                throw ShardError.io(path: shards.folder, reason: "the shards hold \(ordered.count) of \(manifest.entries.count) predictions")
            }
            try CohortShards.write(Data(ordered.map { $0 + "\n" }.joined().utf8), to: out)
            shards.finish()
            print(String(format: "staged %d images with %@ v%d -> %@ (%.1f s on %d ranks; CPU %.1f s all ranks, %.1f s busiest rank)", ordered.count, info.name, info.version, out,
                         Date().timeIntervalSince(t0), comm.size, cpu.total, cpu.maxRank))
        }
    }
}
