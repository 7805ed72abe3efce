import Common
import Foundation

/// Which fraction of a synthetic cohort each stage gets, e.g. healthy 0.4, NPDR 0.35, PDR 0.25.
public struct StageMix: Sendable, Equatable {
    /// Fractions per stage (non-negative, summing to 1 after normalisation).
    public var fractions: [DRStage: Double]

    /// The default mix: healthy 0.40, NPDR 0.35, PDR 0.25.
    public static let standard = StageMix(fractions: [.healthy: 0.40, .npdr: 0.35, .pdr: 0.25])

    /// A mix from explicit fractions (normalised to sum 1).
    public init(fractions: [DRStage: Double]) { self.fractions = fractions }

    /// Parses "healthy:0.4,npdr:0.35,pdr:0.25" (missing stages get 0; fractions are normalised).
    /// - Throws: `CohortError.invalidOption(name: "stages", ...)` on unknown stages or bad numbers.
    public init(parsing text: String) throws {
        var f: [DRStage: Double] = [:]
        for part in text.split(separator: ",") {
            let kv = part.split(separator: ":")
            guard kv.count == 2, let stage = DRStage(rawValue: kv[0].trimmingCharacters(in: .whitespaces).lowercased()) else {
                throw CohortError.invalidOption(name: "stages", reason: "expected stage:fraction with stage in healthy, npdr, pdr; got \"\(part)\"")
            }
            guard let v = Double(kv[1].trimmingCharacters(in: .whitespaces)), v >= 0, v.isFinite else {
                throw CohortError.invalidOption(name: "stages", reason: "fraction for \(stage.rawValue) must be a number >= 0")
            }
            f[stage] = v
        }
        guard f.values.reduce(0, +) > 0 else { throw CohortError.invalidOption(name: "stages", reason: "fractions sum to 0") }
        fractions = f
    }

    /// Exact image counts per stage for `total` images (largest-remainder rounding).
    public func counts(total: Int) -> [DRStage: Int] {
        let sum = DRStage.allCases.reduce(0) { $0 + (fractions[$1] ?? 0) }
        var out: [DRStage: Int] = [:]
        var rem: [(DRStage, Double)] = []
        var used = 0
        for s in DRStage.allCases {
            let exact = Double(total) * (fractions[s] ?? 0) / sum
            out[s] = Int(exact.rounded(.down)); used += out[s]!
            rem.append((s, exact - exact.rounded(.down)))
        }
        for (s, _) in rem.sorted(by: { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }).prefix(total - used) { out[s]! += 1 }
        return out
    }
}

/// One planned eye of a cohort.
public struct PlannedEye: Sendable, Equatable {
    /// Identifier, "eye_00001" style (1-based).
    public var id: String
    /// Stage the severity was drawn for.
    public var stage: DRStage
    /// Severity in [0, 1].
    public var severity: Double
    /// Seed passed to `OCTASimulator.generate` (< 2^53, exact in any JSON reader).
    public var seed: UInt64
    /// Split (stratified by stage: 70% train, 15% val, 15% test).
    public var split: DatasetSplit
}

/// Writes a synthetic cohort folder: images, masks, ground truth, manifests.
///
/// Layout: `images/eye_00001.png`, `masks/eye_00001_{vessels,faz,dropout}.png`, `meta/eye_00001.json`,
/// `manifest.jsonl`, `manifest.csv`. Images are generated in parallel, each from its own seed derived from
/// (cohort seed, index), so the files are byte-identical for any thread count.
public struct CohortGenerator: Sendable {
    /// Simulator used for every eye.
    public let simulator: OCTASimulator

    /// A generator for `config`.
    public init(config: SimulatorConfig) { simulator = OCTASimulator(config: config) }

    /// The cohort plan: stage counts from `mix`, shuffled; severity uniform within the stage's interval;
    /// per-eye seed (53 bits) from stream `index` of `seed`; splits stratified by stage.
    public static func plan(count: Int, seed: UInt64, mix: StageMix) -> [PlannedEye] {
        var rng = SeededGenerator(seed: seed, stream: 0xC0407)
        let counts = mix.counts(total: count)
        var stages: [DRStage] = []
        for s in DRStage.allCases { stages += [DRStage](repeating: s, count: counts[s] ?? 0) }
        for i in stride(from: stages.count - 1, to: 0, by: -1) { stages.swapAt(i, rng.int(below: i + 1)) }
        var eyes: [PlannedEye] = []
        for (i, stage) in stages.enumerated() {
            let r = SeverityScale.range(of: stage)
            let sev = stage == .pdr ? r.lo + (r.hi - r.lo) * rng.uniform() : min(r.hi - 1e-6, rng.uniform(r.lo, r.hi))
            var eyeRNG = SeededGenerator(seed: seed, stream: UInt64(i + 1))
            // 53-bit seeds survive every JSON reader exactly (JavaScript doubles, jansson's signed 64-bit).
            eyes.append(PlannedEye(id: String(format: "eye_%05d", i + 1), stage: stage, severity: sev,
                                   seed: eyeRNG.next() >> 11, split: .train))
        }
        // Stratified split: within each stage a seeded shuffle, then 70 / 15 / 15.
        for s in DRStage.allCases {
            var idx = eyes.indices.filter { eyes[$0].stage == s }
            for i in stride(from: idx.count - 1, to: 0, by: -1) { idx.swapAt(i, rng.int(below: i + 1)) }
            let nVal = Int((Double(idx.count) * 0.15).rounded()), nTest = Int((Double(idx.count) * 0.15).rounded())
            for (k, i) in idx.enumerated() {
                eyes[i].split = k < nVal ? .val : (k < nVal + nTest ? .test : .train)
            }
        }
        return eyes
    }

    /// The manifest entry of a planned eye.
    public static func entry(for eye: PlannedEye, fovMM: Double) -> CohortEntry {
        CohortEntry(id: eye.id, path: "images/\(eye.id).png", label: eye.stage, grade: SeverityScale.grade(eye.severity),
                    split: eye.split, severity: eye.severity, seed: eye.seed,
                    vesselMaskPath: "masks/\(eye.id)_vessels.png", fazMaskPath: "masks/\(eye.id)_faz.png",
                    dropoutMaskPath: "masks/\(eye.id)_dropout.png", metaPath: "meta/\(eye.id).json", fovMM: fovMM)
    }

    /// Ground truth as pretty, key-sorted JSON (byte-stable).
    public static func metadataJSON(_ truth: GroundTruth) throws -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return try enc.encode(truth)
    }

    /// Generates and writes a cohort of `count` eyes into `dir` (created if needed).
    /// `progress(done, total)` is called after each eye from worker threads (serialised by a lock).
    /// - Throws: `CohortError.io` naming the first file that could not be written.
    @discardableResult
    public func write(count: Int, seed: UInt64, mix: StageMix, to dir: String,
                      progress: @escaping @Sendable (Int, Int) -> Void = { _, _ in }) throws -> CohortManifest {
        let fm = FileManager.default
        for sub in ["", "images", "masks", "meta"] {
            let p = (dir as NSString).appendingPathComponent(sub)
            do { try fm.createDirectory(atPath: p, withIntermediateDirectories: true) }
            catch { throw CohortError.io(path: p, reason: "cannot create folder: \(error.localizedDescription)") }
        }
        let eyes = Self.plan(count: count, seed: seed, mix: mix)
        let fov = simulator.config.fovMM
        let lock = NSLock()
        var done = 0
        var firstError: (Int, Error)?
        let sim = simulator
        Parallel.forEach(eyes.count, minChunk: 1) { range in
            for i in range {
                let e = eyes[i]
                let eye = sim.generate(seed: e.seed, severity: e.severity)
                let entry = Self.entry(for: e, fovMM: fov)
                func p(_ rel: String) -> String { (dir as NSString).appendingPathComponent(rel) }
                do {
                    try ImageIO.writePNG(eye.image, to: p(entry.path))
                    try ImageIO.writePNG(eye.vesselMask, to: p(entry.vesselMaskPath!))
                    try ImageIO.writePNG(eye.fazMask, to: p(entry.fazMaskPath!))
                    try ImageIO.writePNG(eye.dropoutMask, to: p(entry.dropoutMaskPath!))
                    let json = try Self.metadataJSON(eye.truth)
                    do { try json.write(to: URL(fileURLWithPath: p(entry.metaPath!)), options: .atomic) }
                    catch { throw CohortError.io(path: p(entry.metaPath!), reason: error.localizedDescription) }
                } catch {
                    lock.lock()
                    if firstError == nil || firstError!.0 > i { firstError = (i, error) }
                    lock.unlock()
                }
                lock.lock(); done += 1; let d = done; lock.unlock()
                progress(d, eyes.count)
            }
        }
        if let (_, err) = firstError {
            if let c = err as? CohortError { throw c }
            throw CohortError.io(path: dir, reason: "\(err)")
        }
        let manifest = CohortManifest(root: dir, entries: eyes.map { Self.entry(for: $0, fovMM: fov) })
        try manifest.save()
        return manifest
    }
}
