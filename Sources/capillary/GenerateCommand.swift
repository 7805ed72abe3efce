import ArgumentParser
import Foundation
import Retina

/// `capillary generate`: writes a synthetic OCTA cohort with ground truth and stratified manifests.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate a synthetic OCTA cohort (images, masks, ground-truth JSON, manifest.jsonl/.csv).",
        discussion: """
        Same --seed and options give byte-identical files on any number of threads. Severity s is drawn \
        uniformly within each stage's interval (healthy [0,0.3), NPDR [0.3,0.7), PDR [0.7,1]); see docs/COHORT.md.
        """)

    @Option(help: "Number of images.")
    var count: Int

    @Option(help: "Cohort seed.")
    var seed: UInt64 = 1

    @Option(help: "Output folder (created).")
    var out: String

    @Option(help: "Stage mix, e.g. healthy:0.4,npdr:0.35,pdr:0.25.")
    var stages: String = "healthy:0.4,npdr:0.35,pdr:0.25"

    @Option(help: "Image size, px (square).")
    var size: Int = 304

    @Option(name: .customLong("fov-mm"), help: "Field of view, mm (3 for a 3x3 mm scan, 6 for 6x6 mm).")
    var fovMM: Double = 3

    @Option(help: "Slab: superficial, deep or combined.")
    var plexus: String = "superficial"

    func run() throws {
        guard count >= 1 && count <= 1_000_000 else { throw ValidationError("--count must be 1...1000000, got \(count)") }
        guard let slab = Plexus(rawValue: plexus) else {
            throw ValidationError("--plexus must be superficial, deep or combined, got \(plexus)")
        }
        let config = SimulatorConfig(sizePX: size, fovMM: fovMM, plexus: slab)
        if let problem = config.validationError() { throw ValidationError(problem) }
        let mix = try StageMix(parsing: stages)
        let bar = ProgressBar(label: "generate", total: count)
        let start = Date()
        let manifest = try CohortGenerator(config: config).write(count: count, seed: seed, mix: mix, to: out) { done, total in
            bar.update(done)
        }
        bar.finish()
        let secs = Date().timeIntervalSince(start)
        var byStage: [String] = []
        for s in DRStage.allCases { byStage.append("\(s.rawValue) \(manifest.entries.filter { $0.label == s }.count)") }
        print(String(format: "wrote %d images to %@ in %.1f s (%.1f images/s); %@", count, out, secs,
                     Double(count) / max(secs, 1e-9), byStage.joined(separator: ", ")))
    }
}

/// A progress bar on a terminal (redrawn in place on stderr); plain progress lines when stderr is not a TTY.
final class ProgressBar: @unchecked Sendable {
    private let label: String
    private let total: Int
    private let tty = isatty(2) != 0
    private let lock = NSLock()
    private var lastPrinted = -1

    init(label: String, total: Int) { self.label = label; self.total = max(1, total) }

    func update(_ done: Int) {
        lock.lock(); defer { lock.unlock() }
        if tty {
            let width = 30, filled = width * done / total
            let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
            FileHandle.standardError.write("\r\(label) [\(bar)] \(done)/\(total)".data(using: .utf8)!)
        } else {
            // Plain lines every 10% (logs stay short).
            let decile = 10 * done / total
            if decile > lastPrinted { lastPrinted = decile; FileHandle.standardError.write("\(label): \(done)/\(total)\n".data(using: .utf8)!) }
        }
    }

    func finish() { if tty { FileHandle.standardError.write("\n".data(using: .utf8)!) } }
}
