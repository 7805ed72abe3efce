import Foundation
import Retina
import RPC

/// `dataset/generate {count, seed, out, sizePX?, fovMM?, mix?}`: writes a synthetic cohort (the layout of
/// `capillary generate`, docs/COHORT.md) as a job. Returns `{jobId}` at once; progress goes to the client's
/// `workDoneToken`. The cohort is written into `<out>.partial-<job>` and renamed to `out` only when complete,
/// so a cancelled or failed job leaves nothing at `out`.
struct DatasetMethod {
    let configuration: DaemonConfiguration
    let jobs: JobManager

    struct Params: Decodable {
        var count: Int
        var seed: UInt64
        var out: String
        var sizePX: Int?
        var fovMM: Double?
        var mix: String?
    }

    func handle(_ ctx: RequestContext) throws -> JSONValue {
        let p = try ctx.decodeParams(Params.self)
        guard p.count >= 1 && p.count <= configuration.maxGenerateCount else {
            throw DaemonError.invalidParams("field 'count' must be 1...\(configuration.maxGenerateCount), got \(p.count)")
        }
        guard p.out.hasPrefix("/") else {
            throw DaemonError.invalidParams("field 'out' must be an absolute path (the daemon runs in \(FileManager.default.currentDirectoryPath)), got '\(p.out)'")
        }
        let out = (p.out as NSString).standardizingPath
        if let existing = try? FileManager.default.contentsOfDirectory(atPath: out), !existing.isEmpty {
            throw DaemonError.invalidParams("field 'out': \(out) exists and is not empty; choose a new folder")
        } else if FileManager.default.fileExists(atPath: out) && (try? FileManager.default.contentsOfDirectory(atPath: out)) == nil {
            throw DaemonError.invalidParams("field 'out': \(out) exists and is not a folder")
        }
        let parent = (out as NSString).deletingLastPathComponent
        guard FileManager.default.isWritableFile(atPath: parent) else {
            throw DaemonError.invalidParams("field 'out': the parent folder \(parent) does not exist or is not writable")
        }
        let config = SimulatorConfig(sizePX: p.sizePX ?? 304, fovMM: p.fovMM ?? 3)
        if let problem = config.validationError() { throw DaemonError.invalidParams("dataset/generate: \(problem)") }
        let mix: StageMix
        do { mix = try p.mix.map { try StageMix(parsing: $0) } ?? .standard } catch {
            throw DaemonError.invalidParams("field 'mix': \(error)")
        }
        let count = p.count, seed = p.seed
        let job = try jobs.start(kind: "dataset/generate", title: "generating \(count) synthetic eyes into \(out)",
                                 sink: ctx.workDoneSink) { jc in
            try Self.generate(count: count, seed: seed, mix: mix, config: config, out: out, jc: jc)
        }
        return ["jobId": .string(job.id), "out": .string(out)]
    }

    /// The job body: one eye at a time on the job's thread (so inference keeps the other cores), checking
    /// for cancellation between eyes.
    static func generate(count: Int, seed: UInt64, mix: StageMix, config: SimulatorConfig, out: String,
                         jc: JobContext, phase: String? = nil) throws -> JSONValue {
        let fm = FileManager.default
        let temp = out + ".partial-\(jc.job.id)"
        try? fm.removeItem(atPath: temp)
        defer { try? fm.removeItem(atPath: temp) }  // gone after the rename; removes leftovers otherwise
        for sub in ["images", "masks", "meta"] {
            try fm.createDirectory(atPath: (temp as NSString).appendingPathComponent(sub), withIntermediateDirectories: true)
        }
        let eyes = CohortGenerator.plan(count: count, seed: seed, mix: mix)
        let simulator = OCTASimulator(config: config)
        var stageCounts: [DRStage: Int] = [:]
        for (i, e) in eyes.enumerated() {
            try jc.checkCancelled()
            let eye = simulator.generate(seed: e.seed, severity: e.severity)
            let entry = CohortGenerator.entry(for: e, fovMM: config.fovMM)
            func path(_ rel: String) -> String { (temp as NSString).appendingPathComponent(rel) }
            try ImageIO.writePNG(eye.image, to: path(entry.path))
            try ImageIO.writePNG(eye.vesselMask, to: path(entry.vesselMaskPath!))
            try ImageIO.writePNG(eye.fazMask, to: path(entry.fazMaskPath!))
            try ImageIO.writePNG(eye.dropoutMask, to: path(entry.dropoutMaskPath!))
            try CohortGenerator.metadataJSON(eye.truth).write(to: URL(fileURLWithPath: path(entry.metaPath!)), options: .atomic)
            stageCounts[e.stage, default: 0] += 1
            jc.report(done: i + 1, total: count, message: "eye \(i + 1)/\(count) (\(e.stage.rawValue))",
                      extra: phase.map { ["phase": .string($0)] } ?? JSONObject())
        }
        try jc.checkCancelled()
        try CohortManifest(root: temp, entries: eyes.map { CohortGenerator.entry(for: $0, fovMM: config.fovMM) }).save()
        if let c = try? fm.contentsOfDirectory(atPath: out), c.isEmpty { try fm.removeItem(atPath: out) }
        try fm.moveItem(atPath: temp, toPath: out)
        var counts = JSONObject()
        for s in DRStage.allCases { counts[s.rawValue] = .int(Int64(stageCounts[s] ?? 0)) }
        return ["out": .string(out), "count": .int(Int64(count)), "manifest": .string(out + "/manifest.jsonl"),
                "stages": .object(counts)]
    }
}
