import ArgumentParser
import Common
import Foundation
import Retina
import VesselGraph

/// `capillary graph`: OCTA image -> vessel graph JSON (+ overlay and mask PNGs), a whole cohort on all cores,
/// or an evaluation against manual masks of real eyes.
struct GraphCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "graph",
        abstract: "Build the heterogeneous vessel graph (vessel / ICA / FAZ nodes, biomarkers) of OCTA images.",
        discussion: """
            capillary graph IMAGE --out graph.json [--overlay o.png] [--mask m.png] [--fov-mm F]
            capillary graph --cohort DIR [--out-dir D]        every PNG/BMP image of DIR, on all cores
            capillary graph --evaluate-real DIR [--overlay-dir D]   OCTA-500 eyes with GT_Capillary/GT_FAZ masks
            The JSON format is described in docs/GRAPH_FORMAT.md.
            """)

    @Argument(help: "OCTA en-face image (PNG or BMP).")
    var image: String?

    @Option(help: "Where to write the graph JSON.")
    var out: String?

    @Option(help: "Where to write an overlay PNG (skeleton, branch points, ICA borders, FAZ, ETDRS circles).")
    var overlay: String?

    @Option(help: "Where to write the vessel mask PNG (0/255).")
    var mask: String?

    @Option(name: .customLong("fov-mm"), help: "Field of view in mm (default from the width: 304 px -> 3 mm, 400 px -> 6 mm).")
    var fovMM: Double?

    @Option(help: "Overlay magnification (1-4).")
    var scale: Int = 2

    @Option(help: "Process every image of this folder (graph JSON per image + biomarkers.csv).")
    var cohort: String?

    @Option(name: .customLong("out-dir"), help: "Output folder for --cohort (default DIR/graphs).")
    var outDir: String?

    @Option(name: .customLong("evaluate-real"), help: "Folder of OCTA-500 eyes (ILM_OPL_<id>.bmp, GT_Capillary_<id>.png, GT_FAZ_<id>.png): print vessel Dice and FAZ area error per eye.")
    var evaluateReal: String?

    @Option(name: .customLong("overlay-dir"), help: "With --evaluate-real: write an overlay per eye here (keep it out of git, e.g. demo-out/).")
    var overlayDir: String?

    @Option(help: "Pipeline configuration JSON (VesselGraphConfig); defaults otherwise.")
    var config: String?

    func validate() throws {
        let modes = [image != nil, cohort != nil, evaluateReal != nil].filter { $0 }.count
        guard modes == 1 else { throw ValidationError("give exactly one of IMAGE, --cohort DIR or --evaluate-real DIR") }
        if image != nil && out == nil && overlay == nil && mask == nil {
            throw ValidationError("nothing to write: add --out graph.json (and/or --overlay, --mask)")
        }
        if let f = fovMM, !(f > 0) { throw ValidationError("--fov-mm must be positive (got \(f))") }
    }

    func run() throws {
        let builder = VesselGraphBuilder(config: try loadConfig())
        if let path = image {
            let img = try load(path)
            let a = try builder.analyze(img)
            if let o = out { try write(a.graph.jsonData(), to: o) }
            if let o = overlay { try ImageIO.writePNG(GraphOverlay.render(img, a, scale: scale), to: o) }
            if let m = mask { try ImageIO.writePNG(a.vesselMask, to: m) }
            let b = a.graph.biomarkers
            print(String(format: "%@: %d vessel, %d ICA, %d FAZ nodes; perfusion %.3f, skeleton %.2f mm/mm2, FAZ %.3f mm2 (circularity %.2f), FD %.3f",
                         path, a.graph.vessel.count, a.graph.ica.count, a.graph.faz.count, b["perfusion_density"]!,
                         b["skeleton_length_density_mm_per_mm2"]!, b["faz_area_mm2"]!, b["faz_circularity"]!,
                         b["fractal_dimension"]!))
        } else if let dir = cohort {
            try runCohort(dir, builder)
        } else if let dir = evaluateReal {
            try runRealEvaluation(dir, builder)
        }
    }

    private func loadConfig() throws -> VesselGraphConfig {
        guard let c = config else { return VesselGraphConfig() }
        do {
            return try JSONDecoder().decode(VesselGraphConfig.self, from: Data(contentsOf: URL(fileURLWithPath: c)))
        } catch {
            throw ValidationError("\(c): not a VesselGraphConfig JSON: \(error)")
        }
    }

    private func load(_ path: String) throws -> GrayImage {
        var img = try ImageIO.read(path: path)
        if let f = fovMM { img.pixelSizeMM = f / Double(img.width) }
        return img
    }

    private func write(_ data: Data, to path: String) throws {
        do { try data.write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw ValidationError("\(path): cannot write: \(error.localizedDescription)")
        }
    }

    // MARK: - Cohort

    private func runCohort(_ dir: String, _ builder: VesselGraphBuilder) throws {
        let files = try cohortImages(dir)
        guard !files.isEmpty else { throw ValidationError("\(dir): no PNG/BMP images found") }
        let outFolder = outDir ?? (dir as NSString).appendingPathComponent("graphs")
        try FileManager.default.createDirectory(atPath: outFolder, withIntermediateDirectories: true)
        var rows = [String?](repeating: nil, count: files.count)
        var errors = [String?](repeating: nil, count: files.count)
        let lock = NSLock()
        var done = 0
        let progress = ProgressBar(total: files.count)
        let keys = ["perfusion_density", "skeleton_length_density_mm_per_mm2", "faz_area_mm2", "faz_circularity",
                    "fractal_dimension", "vessel_segment_count", "ica_count"]
        let start = Date()
        Parallel.forEach(files.count, minChunk: 1) { range in
            for i in range {
                let f = files[i]
                var row: String?, err: String?
                do {
                    let img = try load(f)
                    let g = try builder.build(img)
                    let stem = ((f as NSString).lastPathComponent as NSString).deletingPathExtension
                    try write(g.jsonData(), to: (outFolder as NSString).appendingPathComponent(stem + ".graph.json"))
                    row = ([f] + keys.map { String(format: "%.6g", g.biomarkers[$0] ?? 0) }).joined(separator: ",")
                } catch { err = "\(f): \(error)" }
                lock.lock()
                rows[i] = row; errors[i] = err; done += 1
                progress.update(done)
                lock.unlock()
            }
        }
        progress.finish()
        let csv = (["image," + keys.joined(separator: ",")] + rows.compactMap { $0 }).joined(separator: "\n") + "\n"
        try write(Data(csv.utf8), to: (outFolder as NSString).appendingPathComponent("biomarkers.csv"))
        for e in errors.compactMap({ $0 }) { FileHandle.standardError.write(Data("capillary: \(e)\n".utf8)) }
        print(String(format: "%d/%d images -> %@ (%.1f s on %d threads)", rows.compactMap { $0 }.count, files.count,
                     outFolder, Date().timeIntervalSince(start), Parallel.threadCount))
        if errors.contains(where: { $0 != nil }) { throw ExitCode(1) }
    }

    /// Images of a cohort folder: the `image` paths of manifest.jsonl when present, else every PNG/BMP in the
    /// folder and its `images/` subfolder whose name does not mark it as a mask.
    private func cohortImages(_ dir: String) throws -> [String] {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw ValidationError("\(dir): not a folder")
        }
        let manifest = (dir as NSString).appendingPathComponent("manifest.jsonl")
        if let text = try? String(contentsOfFile: manifest, encoding: .utf8) {
            var out: [String] = []
            for line in text.split(separator: "\n") {
                guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { continue }
                if let p = (obj["image"] ?? obj["path"]) as? String {
                    out.append(p.hasPrefix("/") ? p : (dir as NSString).appendingPathComponent(p))
                }
            }
            if !out.isEmpty { return out }
        }
        var out: [String] = []
        for sub in [dir, (dir as NSString).appendingPathComponent("images")] {
            guard let names = try? fm.contentsOfDirectory(atPath: sub) else { continue }
            for n in names.sorted() {
                let l = n.lowercased()
                guard l.hasSuffix(".png") || l.hasSuffix(".bmp") else { continue }
                if l.contains("mask") || l.hasPrefix("gt_") || l.contains("overlay") { continue }
                out.append((sub as NSString).appendingPathComponent(n))
            }
        }
        return out
    }

    // MARK: - Real-image evaluation

    private func runRealEvaluation(_ dir: String, _ builder: VesselGraphBuilder) throws {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        let ids = names.filter { $0.hasPrefix("ILM_OPL_") && $0.hasSuffix(".bmp") }
            .map { String($0.dropFirst(8).dropLast(4)) }.sorted()
        guard !ids.isEmpty else { throw ValidationError("\(dir): no ILM_OPL_<id>.bmp images") }
        if let o = overlayDir { try FileManager.default.createDirectory(atPath: o, withIntermediateDirectories: true) }
        print("| eye | vessel Dice | density (ours / manual) | FAZ area mm2 (ours / manual) | FAZ rel. error | FAZ Dice | ms |")
        print("|---|---|---|---|---|---|---|")
        var dices: [Double] = [], fazErrors: [Double] = []
        for id in ids {
            let img = try load((dir as NSString).appendingPathComponent("ILM_OPL_\(id).bmp"))
            let gtV = try ImageIO.readMask(path: (dir as NSString).appendingPathComponent("GT_Capillary_\(id).png"))
            let gtF = try ImageIO.readMask(path: (dir as NSString).appendingPathComponent("GT_FAZ_\(id).png"))
            let t0 = Date()
            let a = try builder.analyze(img)
            let ms = Date().timeIntervalSince(t0) * 1000
            let dice = a.vesselMask.dice(gtV)
            let fazGT = Double(gtF.count) * img.pixelAreaMM2
            let fazOurs = a.graph.biomarkers["faz_area_mm2"]!
            let err = fazGT > 0 ? abs(fazOurs - fazGT) / fazGT : 0
            dices.append(dice); fazErrors.append(err)
            print(String(format: "| %@ | %.3f | %.3f / %.3f | %.3f / %.3f | %.1f%% | %.3f | %.1f |", id, dice,
                         a.vesselMask.fraction, gtV.fraction, fazOurs, fazGT, err * 100, a.fazMask.dice(gtF), ms))
            if let o = overlayDir {
                try ImageIO.writePNG(GraphOverlay.render(img, a, scale: scale),
                                     to: (o as NSString).appendingPathComponent("overlay_\(id).png"))
            }
        }
        let sortedErr = fazErrors.sorted()
        let median = sortedErr.count % 2 == 1 ? sortedErr[sortedErr.count / 2]
            : (sortedErr[sortedErr.count / 2 - 1] + sortedErr[sortedErr.count / 2]) / 2
        print(String(format: "| mean / median | %.3f | | | median %.1f%% | | |", dices.reduce(0, +) / Double(dices.count), median * 100))
    }
}

/// A one-line progress bar on stderr (redrawn in place).
final class ProgressBar {
    let total: Int
    init(total: Int) { self.total = total }

    func update(_ done: Int) {
        let width = 30
        let filled = total > 0 ? width * done / total : width
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        FileHandle.standardError.write(Data("\r[\(bar)] \(done)/\(total)".utf8))
    }

    func finish() { FileHandle.standardError.write(Data("\n".utf8)) }
}
