import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Retina
import VesselGraph

/// `capillary bench-graph`: milliseconds per image from pixels to graph JSON, one core, at 304x304 (3 mm) and
/// 400x400 (6 mm); prints a markdown table and writes bench-out/graph.json.
struct BenchGraphCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-graph",
        abstract: "Time the image -> graph JSON pipeline (one core) on 304x304 and 400x400 images.",
        discussion: "Inputs: simulated eyes (3 mm / 304 px and 6 mm / 400 px) and, when present, the real OCTA-500 6 mm eyes.")

    @Option(help: "Timed repetitions per image (after one warm-up run).")
    var repeats: Int = 10

    @Option(help: "Where to write the JSON results.")
    var out: String = "bench-out/graph.json"

    @Option(help: "Folder of real OCTA-500 6 mm eyes (ILM_OPL_*.bmp) to time as well, if present.")
    var real: String = "../shared/real-octa/octa500-6mm"

    struct Row: Codable {
        var name: String
        var sizePX: String
        var fovMM: Double
        /// Wall-clock median, ms.
        var msMedian: Double
        /// Wall-clock minimum, ms.
        var msMin: Double
        /// CPU time of the calling thread, median, ms (insensitive to other processes on the machine).
        var cpuMSMedian: Double
        var stageMS: [String: Double]
        var jsonMS: Double
        var jsonBytes: Int
        var nodes: Int
        var targetMS: Double
    }

    func run() throws {
        var inputs: [(String, GrayImage, Double)] = []
        // Simulated eyes (Retina's OCTASimulator): a healthy and a PDR eye at 3 mm / 304 px, one at 6 mm / 400 px.
        let sim3 = OCTASimulator(config: SimulatorConfig(sizePX: 304, fovMM: 3))
        let sim6 = OCTASimulator(config: SimulatorConfig(sizePX: 400, fovMM: 6))
        inputs.append(("simulated healthy", sim3.generate(seed: 1, severity: 0.1).image, 25))
        inputs.append(("simulated PDR", sim3.generate(seed: 2, severity: 0.9).image, 25))
        inputs.append(("simulated 6 mm", sim6.generate(seed: 3, severity: 0.5).image, 45))
        if let names = try? FileManager.default.contentsOfDirectory(atPath: real) {
            for n in names.sorted() where n.hasPrefix("ILM_OPL_") && n.hasSuffix(".bmp") {
                inputs.append(("OCTA-500 " + n.dropFirst(8).dropLast(4), try ImageIO.read(path: (real as NSString).appendingPathComponent(n)), 45))
            }
        }
        let builder = VesselGraphBuilder()
        var rows: [Row] = []
        print("| image | size | FOV mm | CPU ms (median) | wall ms (median) | wall ms (min) | segment | faz | skeleton | footprints | regions | features | biomarkers | JSON ms | JSON KB | nodes | target ms |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for (name, img, target) in inputs {
            _ = try builder.analyze(img).graph.jsonData()
            var times: [Double] = [], jsonTimes: [Double] = [], cpu: [Double] = []
            var stages: [String: [Double]] = [:]
            var bytes = 0, nodes = 0
            for _ in 0..<max(1, repeats) {
                let c0 = Self.threadCPUms()
                let t0 = DispatchTime.now().uptimeNanoseconds
                let a = try builder.analyze(img)
                let t1 = DispatchTime.now().uptimeNanoseconds
                let data = a.graph.jsonData()
                let t2 = DispatchTime.now().uptimeNanoseconds
                cpu.append(Self.threadCPUms() - c0)
                times.append(Double(t2 - t0) / 1e6); jsonTimes.append(Double(t2 - t1) / 1e6)
                for (k, v) in a.stageMS { stages[k, default: []].append(v) }
                bytes = data.count; nodes = a.graph.vessel.count + a.graph.ica.count + a.graph.faz.count
            }
            func median(_ v: [Double]) -> Double { let s = v.sorted(); return s[s.count / 2] }
            let st = stages.mapValues(median)
            let row = Row(name: name, sizePX: "\(img.width)x\(img.height)", fovMM: img.fieldOfViewMM.width,
                          msMedian: median(times), msMin: times.min()!, cpuMSMedian: median(cpu), stageMS: st, jsonMS: median(jsonTimes),
                          jsonBytes: bytes, nodes: nodes, targetMS: target)
            rows.append(row)
            print(String(format: "| %@ | %@ | %.0f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %d | %d | %.0f |",
                         name, row.sizePX, row.fovMM, row.cpuMSMedian, row.msMedian, row.msMin, st["segment"] ?? 0, st["faz"] ?? 0,
                         st["skeleton"] ?? 0, st["footprints"] ?? 0, st["regions"] ?? 0, st["features"] ?? 0,
                         st["biomarkers"] ?? 0, row.jsonMS, bytes / 1024, nodes, target))
        }
        let dir = (out as NSString).deletingLastPathComponent
        if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try enc.encode(rows).write(to: URL(fileURLWithPath: out))
        print("wrote \(out)")
    }

    /// CPU time consumed by the calling thread so far, ms.
    static func threadCPUms() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) * 1000 + Double(ts.tv_nsec) / 1e6
    }
}
