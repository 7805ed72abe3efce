import ArgumentParser
import Foundation
import Retina
import VesselGraph

/// `capillary bench-graph`: milliseconds per image from pixels to graph JSON, one core, at 304x304 (3 mm) and
/// 400x400 (6 mm); prints a markdown table and writes bench-out/graph.json.
struct BenchGraphCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-graph",
        abstract: "Time the image -> graph JSON pipeline (one core) on 304x304 and 400x400 images.")

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
        var msMedian: Double
        var msMin: Double
        var stageMS: [String: Double]
        var jsonMS: Double
        var jsonBytes: Int
        var nodes: Int
        var targetMS: Double
    }

    func run() throws {
        var inputs: [(String, GrayImage, Double)] = []
        inputs.append(("phantom 3 mm", GeometricPhantom.network(width: 304, height: 304, pixelSizeMM: 3.0 / 304, seed: 1), 25))
        inputs.append(("phantom 6 mm", GeometricPhantom.network(width: 400, height: 400, pixelSizeMM: 6.0 / 400, seed: 2, lines: 260), 45))
        if let names = try? FileManager.default.contentsOfDirectory(atPath: real) {
            for n in names.sorted() where n.hasPrefix("ILM_OPL_") && n.hasSuffix(".bmp") {
                inputs.append(("OCTA-500 " + n.dropFirst(8).dropLast(4), try ImageIO.read(path: (real as NSString).appendingPathComponent(n)), 45))
            }
        }
        let builder = VesselGraphBuilder()
        var rows: [Row] = []
        print("| image | size | FOV mm | median ms | min ms | segment | faz | skeleton | footprints | regions | features | biomarkers | JSON ms | JSON KB | nodes | target ms |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for (name, img, target) in inputs {
            _ = try builder.analyze(img).graph.jsonData()
            var times: [Double] = [], jsonTimes: [Double] = []
            var stages: [String: [Double]] = [:]
            var bytes = 0, nodes = 0
            for _ in 0..<max(1, repeats) {
                let t0 = DispatchTime.now().uptimeNanoseconds
                let a = try builder.analyze(img)
                let t1 = DispatchTime.now().uptimeNanoseconds
                let data = a.graph.jsonData()
                let t2 = DispatchTime.now().uptimeNanoseconds
                times.append(Double(t2 - t0) / 1e6); jsonTimes.append(Double(t2 - t1) / 1e6)
                for (k, v) in a.stageMS { stages[k, default: []].append(v) }
                bytes = data.count; nodes = a.graph.vessel.count + a.graph.ica.count + a.graph.faz.count
            }
            func median(_ v: [Double]) -> Double { let s = v.sorted(); return s[s.count / 2] }
            let st = stages.mapValues(median)
            let row = Row(name: name, sizePX: "\(img.width)x\(img.height)", fovMM: img.fieldOfViewMM.width,
                          msMedian: median(times), msMin: times.min()!, stageMS: st, jsonMS: median(jsonTimes),
                          jsonBytes: bytes, nodes: nodes, targetMS: target)
            rows.append(row)
            print(String(format: "| %@ | %@ | %.0f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %d | %d | %.0f |",
                         name, row.sizePX, row.fovMM, row.msMedian, row.msMin, st["segment"] ?? 0, st["faz"] ?? 0,
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
}
