import ArgumentParser
import Common
import Foundation
import Retina

/// `capillary bench-retina`: synthetic OCTA generation speed (images per second), in memory and to disk.
struct BenchRetinaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-retina",
        abstract: "Benchmark synthetic OCTA generation (images/s at 304 px on all cores; target >= 5/s on 2 cores). Writes bench-out/retina.json.")

    @Option(help: "Images per measurement.")
    var count: Int = 60

    @Option(help: "JSON output path.")
    var out: String = "bench-out/retina.json"

    func run() throws {
        var rows: [(name: String, size: Int, fov: Double, threads: Int, images: Int, seconds: Double)] = []
        let plan = CohortGenerator.plan(count: count, seed: 99, mix: .standard)

        func inMemory(size: Int, fov: Double, parallel: Bool) -> Double {
            let sim = OCTASimulator(config: SimulatorConfig(sizePX: size, fovMM: fov))
            let t0 = Date()
            if parallel {
                Parallel.forEach(plan.count, minChunk: 1) { r in
                    for i in r { _ = sim.generate(seed: plan[i].seed, severity: plan[i].severity) }
                }
            } else {
                for e in plan { _ = sim.generate(seed: e.seed, severity: e.severity) }
            }
            return Date().timeIntervalSince(t0)
        }
        // Warm-up (page faults, lazy globals) outside the timings.
        _ = OCTASimulator(config: SimulatorConfig()).generate(seed: 1, severity: 0.5)
        rows.append(("generate in memory, 1 thread", 304, 3, 1, count, inMemory(size: 304, fov: 3, parallel: false)))
        rows.append(("generate in memory, all cores", 304, 3, Parallel.threadCount, count, inMemory(size: 304, fov: 3, parallel: true)))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("capillary-bench-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let t0 = Date()
        try CohortGenerator(config: SimulatorConfig()).write(count: count, seed: 99, mix: .standard, to: dir)
        rows.append(("generate + write cohort (PNG, masks, JSON)", 304, 3, Parallel.threadCount, count, Date().timeIntervalSince(t0)))
        let n6 = max(4, count / 4)
        let sim6 = OCTASimulator(config: SimulatorConfig(sizePX: 400, fovMM: 6))
        let t1 = Date()
        Parallel.forEach(n6, minChunk: 1) { r in for i in r { _ = sim6.generate(seed: plan[i].seed, severity: plan[i].severity) } }
        rows.append(("generate in memory, all cores", 400, 6, Parallel.threadCount, n6, Date().timeIntervalSince(t1)))

        print("| benchmark | size px | fov mm | threads | images | seconds | images/s |")
        print("|---|---|---|---|---|---|---|")
        var json: [[String: Any]] = []
        for r in rows {
            let ips = Double(r.images) / r.seconds
            print(String(format: "| %@ | %d | %.0f | %d | %d | %.2f | %.1f |", r.name, r.size, r.fov, r.threads, r.images, r.seconds, ips))
            json.append(["name": r.name, "size_px": r.size, "fov_mm": r.fov, "threads": r.threads, "images": r.images,
                         "seconds": r.seconds, "images_per_second": ips])
        }
        let target = rows[2].images > 0 ? Double(rows[2].images) / rows[2].seconds : 0
        print(String(format: "\ntarget >= 5 images/s (304 px, cohort to disk): %@ (%.1f)", target >= 5 ? "met" : "NOT met", target))
        let doc: [String: Any] = ["benchmark": "retina", "nproc": Parallel.threadCount, "results": json,
                                  "target_images_per_second": 5, "target_met": target >= 5]
        let data = try JSONSerialization.data(withJSONObject: doc, options: [.prettyPrinted, .sortedKeys])
        try FileManager.default.createDirectory(atPath: (out as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try data.write(to: URL(fileURLWithPath: out))
        print("wrote \(out)")
    }
}
