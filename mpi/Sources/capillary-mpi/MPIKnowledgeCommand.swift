import ArgumentParser
import Attribution
import Foundation
import GraphNet
import Knowledge
import MessagePassing
import Retina

/// `capillary-mpi knowledge --cohort DIR --store S --out D`: `capillary knowledge` (build) with the manifest's
/// images spread over the ranks (image i on rank i % N). Each rank exports its images' dataset into a sibling
/// folder of D (same depth, so the relative image paths are the same); rank 0 merges the records in manifest
/// order into D's <split>.json, <split>.jsonl and all.jsonl, the same bytes as `capillary knowledge`.
struct MPIKnowledgeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "knowledge",
        abstract: "Build the instruction dataset across MPI ranks (same files as capillary knowledge).")

    @Option(help: "Cohort folder with manifest.jsonl.") var cohort: String
    @Option(help: "Model store folder.") var store: String
    @Option(help: "Model name in the store.") var model: String = "graphnet"
    @Option(help: "Output folder for the dataset.") var out: String
    @Option(help: "Seed of the phrasing choices.") var seed: UInt64 = 1
    @Option(name: .customLong("stage-source"), help: "model or label.") var stageSource: String = "model"
    @Option(name: .customLong("deviation-margin"), help: "As capillary knowledge.") var deviationMargin: Double = KnowledgeThresholds().deviationMargin
    @Flag(name: .customLong("student-text"), help: "As capillary knowledge.") var studentText = false
    @Option(help: "Attribution evidence: ig or none.") var attribution: String = "ig"
    @Option(name: .customLong("ig-steps"), help: "Gauss-Legendre steps of the integrated gradients.") var igSteps: Int = 50

    func run() throws {
        guard stageSource == "model" || stageSource == "label" else { throw ValidationError("--stage-source must be model or label, got \(stageSource)") }
        guard deviationMargin >= 0, deviationMargin.isFinite else { throw ValidationError("--deviation-margin must be >= 0, got \(deviationMargin)") }
        guard attribution == "ig" || attribution == "none" else { throw ValidationError("--attribution must be ig or none, got \(attribution)") }
        guard igSteps >= 2 else { throw ValidationError("--ig-steps must be >= 2, got \(igSteps)") }
        try MPIJob.run { comm in
            let t0 = Date(), cpu0 = MPIJob.cpuSeconds()
            var v: [Int64] = [0]
            if comm.isRoot { v[0] = Int64(try ModelStore(root: store).load(StagingModel.self, name: model).info.version) }
            try comm.allreduceMax(&v)
            let (m, info) = try ModelStore(root: store).load(StagingModel.self, name: model, version: Int(v[0]))
            let source: EvidenceSource
            if attribution == "ig" {
                var o = IntegratedGradientsOptions()
                o.steps = igSteps
                source = IntegratedGradientsEvidence(model: m, options: o)
            } else {
                source = NoAttributionEvidence()
            }
            let manifest = try CohortGraphLoader.manifest(at: cohort)
            let outPath = (out as NSString).standardizingPath
            let parent = (outPath as NSString).deletingLastPathComponent, base = (outPath as NSString).lastPathComponent
            let shards = try CohortShards(comm: comm, folder: (parent as NSString).appendingPathComponent(".\(base).mpi-shards"),
                                          fingerprint: "knowledge cohort=\(cohort) model=\(info.path) seed=\(seed) source=\(stageSource) margin=\(deviationMargin) student=\(studentText) attribution=\(attribution) steps=\(igSteps)")
            // A sibling of the output folder: the same depth, so KnowledgeExport writes the same relative image paths.
            func shardFolder(_ s: Int) -> String { (parent as NSString).appendingPathComponent(".\(base).mpi-shard-\(s)-of-\(comm.size)") }
            let mine = shards.indices(count: manifest.entries.count)
            try shards.runMine {
                let part = CohortManifest(root: manifest.root, entries: mine.map { manifest.entries[$0] })
                let scheme = m.storedConfig.labelScheme
                let graphs = part.entries.contains { scheme.label(of: $0) != nil }
                    ? try CohortGraphLoader(builderConfig: m.storedConfig.builder).load(part, scheme: scheme) : []
                var thresholds = KnowledgeThresholds()
                thresholds.deviationMargin = deviationMargin
                let builder = KnowledgeBuilder(references: m.storedConfig.healthyReferences, classNames: m.classNames, seed: seed,
                                               thresholds: thresholds, quotesModel: !studentText)
                var images: [ImageKnowledge] = []
                for g in graphs {
                    let prediction = try m.predict([g.graph])[0]
                    let evidence = try source.evidence(for: g.graph, prediction: prediction)
                    images.append(try builder.knowledge(id: g.id, imagePath: g.imagePath, split: g.split?.rawValue,
                                                        label: g.label.map { m.classNames[$0] }, graph: g.graph, prediction: prediction,
                                                        evidence: evidence, evidenceSource: source.name, stateLabel: stageSource == "label"))
                }
                try? FileManager.default.removeItem(atPath: shardFolder(comm.rank))
                _ = try KnowledgeExport.write(images, to: shardFolder(comm.rank))
                MPIJob.note(comm, "shard \(comm.rank): \(images.count) images", everyRank: true)
            }
            let cpu = try MPIJob.cpuAcrossRanks(comm, since: cpu0)
            guard comm.isRoot else { return }
            let order = Dictionary(manifest.entries.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { a, _ in a })
            var records: [(index: Int, line: Data, object: [String: Any])] = []
            for s in 0..<comm.size {
                let path = (shardFolder(s) as NSString).appendingPathComponent("all.jsonl")
                for line in try CohortShards.read(path).split(separator: 0x0A) {
                    guard let o = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any], let id = o["id"] as? String,
                          let i = order[id] else { throw ShardError.io(path: path, reason: "a line is not a record of this cohort") }
                    records.append((i, Data(line), o))
                }
            }
            records.sort { $0.index < $1.index }
            var bySplit: [String: [(line: Data, object: [String: Any])]] = [:]
            for r in records { bySplit[(r.object["split"] as? String) ?? "none", default: []].append((r.line, r.object)) }
            do { try FileManager.default.createDirectory(atPath: outPath, withIntermediateDirectories: true) }
            catch { throw ShardError.io(path: outPath, reason: "cannot create: \(error.localizedDescription)") }
            func lines(_ ls: [Data]) -> Data { ls.reduce(into: Data()) { $0.append($1); $0.append(0x0A) } }
            var files: [String] = []
            for s in bySplit.keys.sorted() {
                // KnowledgeExport's pretty array, re-encoded from the parsed records with its writer options.
                let pretty = try JSONSerialization.data(withJSONObject: bySplit[s]!.map(\.object),
                                                        options: [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted])
                let json = (outPath as NSString).appendingPathComponent("\(s).json"), jsonl = (outPath as NSString).appendingPathComponent("\(s).jsonl")
                try CohortShards.write(pretty, to: json)
                try CohortShards.write(lines(bySplit[s]!.map(\.line)), to: jsonl)
                files += [json, jsonl]
            }
            let all = (outPath as NSString).appendingPathComponent("all.jsonl")
            try CohortShards.write(lines(records.map(\.line)), to: all)
            for s in 0..<comm.size { try? FileManager.default.removeItem(atPath: shardFolder(s)) }
            shards.finish()
            print(String(format: "%d images -> %@ (%.1f s on %d ranks; CPU %.1f s all ranks, %.1f s busiest rank); splits: %@", records.count, outPath, Date().timeIntervalSince(t0), comm.size, cpu.total, cpu.maxRank,
                         bySplit.keys.sorted().map { "\($0) \(bySplit[$0]!.count)" }.joined(separator: ", ")))
            for f in files + [all] { print("wrote \(f)") }
        }
    }
}
