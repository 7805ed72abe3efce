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
            capillary graph IMAGE --daemon [--out graph.json] [--json] [--socket PATH]   through capillaryd (the graph method)
            The JSON format is described in docs/GRAPH_FORMAT.md.
            """)

    @Flag(help: "Ask capillaryd (the graph method) instead of computing here; IMAGE may be synthetic:SEED:STAGE[:SIZE].")
    var daemon = false
    @Flag(help: "With --daemon: the daemon's result as one JSON line.")
    var json = false
    @OptionGroup var daemonOptions: DaemonOptions

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

    @Option(name: .customLong("evaluate-synthetic"), help: "Simulate this many eyes (severities spread over 0-1) and compare the graph's biomarkers with the simulator's ground truth.")
    var evaluateSynthetic: Int?

    @Option(help: "With --evaluate-synthetic: first seed.")
    var seed: UInt64 = 1000

    @Option(help: "With --evaluate-synthetic: image size, px (field of view from --fov-mm, default 3 mm).")
    var size: Int = 304

    @Flag(help: "With --evaluate-synthetic: print one row per eye.")
    var perEye = false

    @Option(help: "With --evaluate-synthetic: the simulator's point-spread FWHM, um (default: the simulator's, 25). An experiment knob: a sharper PSF separates capillaries that the default one merges.")
    var psfFwhmUM: Double?

    @Option(help: "Pipeline configuration JSON (VesselGraphConfig); defaults otherwise.")
    var config: String?

    func validate() throws {
        if daemon {
            guard image != nil, cohort == nil, evaluateReal == nil, evaluateSynthetic == nil, overlay == nil, mask == nil else {
                throw ValidationError("--daemon takes IMAGE and optionally --out graph.json, --fov-mm, --json")
            }
            return
        }
        let modes = [image != nil, cohort != nil, evaluateReal != nil, evaluateSynthetic != nil].filter { $0 }.count
        guard modes == 1 else {
            throw ValidationError("give exactly one of IMAGE, --cohort DIR, --evaluate-real DIR or --evaluate-synthetic N")
        }
        if let n = evaluateSynthetic, n < 1 { throw ValidationError("--evaluate-synthetic needs at least 1 eye") }
        if image != nil && out == nil && overlay == nil && mask == nil {
            throw ValidationError("nothing to write: add --out graph.json (and/or --overlay, --mask)")
        }
        if let f = fovMM, !(f > 0) { throw ValidationError("--fov-mm must be positive (got \(f))") }
    }

    func run() throws {
        if daemon, let image { return try runClient { try graphThroughDaemon(image) } }
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
        } else if let n = evaluateSynthetic {
            try runSyntheticEvaluation(n, builder)
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
        var fovs: [String: Double] = [:]
        let files = try cohortImages(dir, &fovs)
        guard !files.isEmpty else { throw ValidationError("\(dir): no PNG/BMP images found") }
        let outFolder = outDir ?? (dir as NSString).appendingPathComponent("graphs")
        try FileManager.default.createDirectory(atPath: outFolder, withIntermediateDirectories: true)
        var rows = [String?](repeating: nil, count: files.count)
        var errors = [String?](repeating: nil, count: files.count)
        let lock = NSLock()
        var done = 0
        let fovByPath = fovs
        let progress = ProgressBar(label: "graph", total: files.count)
        let keys = ["perfusion_density", "skeleton_length_density_mm_per_mm2", "faz_area_mm2", "faz_circularity",
                    "fractal_dimension", "vessel_segment_count", "ica_count"]
        let start = Date()
        Parallel.forEach(files.count, minChunk: 1) { range in
            for i in range {
                let f = files[i]
                var row: String?, err: String?
                do {
                    var img = try load(f)
                    if fovMM == nil, let fov = fovByPath[f] { img.pixelSizeMM = fov / Double(img.width) }
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
    private func cohortImages(_ dir: String, _ manifestFOV: inout [String: Double]) throws -> [String] {
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
                    let full = p.hasPrefix("/") ? p : (dir as NSString).appendingPathComponent(p)
                    out.append(full)
                    if let f = obj["fov_mm"] as? Double { manifestFOV[full] = f }
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
        print("| eye | vessel Dice | density (ours / manual) | skeleton mm/mm2 (ours / manual mask) | FAZ area mm2 (ours / manual) | FAZ rel. error | FAZ Dice | ms |")
        print("|---|---|---|---|---|---|---|---|")
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
            // The manual mask's skeleton measured like the simulator's truth (VesselMaskMorphometry).
            let manualSLD = VesselMaskMorphometry.measure(mask: gtV, faz: nil, pixelSizeMM: img.pixelSizeMM).skeletonLengthDensityMMPerMM2
            print(String(format: "| %@ | %.3f | %.3f / %.3f | %.2f / %.2f | %.3f / %.3f | %.1f%% | %.3f | %.1f |", id, dice,
                         a.vesselMask.fraction, gtV.fraction, a.graph.biomarkers["skeleton_length_density_mm_per_mm2"]!, manualSLD,
                         fazOurs, fazGT, err * 100, a.fazMask.dice(gtF), ms))
            if let o = overlayDir {
                try ImageIO.writePNG(GraphOverlay.render(img, a, scale: scale),
                                     to: (o as NSString).appendingPathComponent("overlay_\(id).png"))
            }
        }
        let sortedErr = fazErrors.sorted()
        let median = sortedErr.count % 2 == 1 ? sortedErr[sortedErr.count / 2]
            : (sortedErr[sortedErr.count / 2 - 1] + sortedErr[sortedErr.count / 2]) / 2
        print(String(format: "| mean / median | %.3f | | | | median %.1f%% | | |", dices.reduce(0, +) / Double(dices.count), median * 100))
    }

    // MARK: - Synthetic evaluation

    private func runSyntheticEvaluation(_ count: Int, _ builder: VesselGraphBuilder) throws {
        var sim = SimulatorConfig(sizePX: size, fovMM: fovMM ?? 3)
        if let psf = psfFwhmUM {
            guard psf.isFinite, psf > 0 else { throw ValidationError("--psf-fwhm-um must be a positive number of um, got \(psf)") }
            sim.render.psfFWHMUM = psf
        }
        if let problem = sim.validationError() { throw ValidationError(problem) }
        let simulator = OCTASimulator(config: sim)
        var results = [SyntheticAccuracy?](repeating: nil, count: count)
        let lock = NSLock()
        var done = 0
        let progress = ProgressBar(label: "evaluate", total: count)
        Parallel.forEach(count, minChunk: 1) { range in
            for i in range {
                let severity = count == 1 ? 0.5 : Double(i) / Double(count - 1)
                let eye = simulator.generate(seed: seed + UInt64(i), severity: severity)
                let r = try? SyntheticAccuracy.measure(eye, builder)
                lock.lock(); results[i] = r; done += 1; progress.update(done); lock.unlock()
            }
        }
        progress.finish()
        let rs = results.compactMap { $0 }
        if perEye {
            print("| seed | severity | vessel Dice | perfusion (ours / true) | SLD mm/mm2 (ours / true / our graph of the true mask / all centrelines) | FAZ mm2 (ours / true) |")
            print("|---|---|---|---|---|---|")
            for r in rs {
                print(String(format: "| %llu | %.2f | %.3f | %.3f / %.3f | %.2f / %.2f / %.2f / %.2f | %.3f / %.3f |", r.seed, r.severity, r.dice,
                             r.perfusion, r.truePerfusion, r.sld, r.trueSLD, r.sldOnTrueMask, r.centrelineSLD, r.fazArea, r.trueFAZArea))
            }
        }
        func median(_ v: [Double]) -> Double {
            let s = v.sorted(); return s.isEmpty ? .nan : (s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2)
        }
        let dice = rs.map(\.dice), fazErr = rs.map(\.fazRelativeError), pErr = rs.map(\.perfusionAbsError)
        let sErr = rs.map(\.sldRelativeError)
        print(String(format: "%d eyes, %dx%d px, %.0f mm, seeds %llu-%llu, severity 0-1:", rs.count, size, size, sim.fovMM, seed,
                     seed + UInt64(count - 1)))
        print("| metric | mean | median | worst | target |")
        print("|---|---|---|---|---|")
        print(String(format: "| vessel Dice | %.3f | %.3f | %.3f | >= 0.80 |", dice.reduce(0, +) / Double(rs.count), median(dice), dice.min() ?? .nan))
        print(String(format: "| FAZ area relative error | %.1f%% | %.1f%% | %.1f%% | median <= 10%% |", 100 * fazErr.reduce(0, +) / Double(rs.count),
                     100 * median(fazErr), 100 * (fazErr.max() ?? .nan)))
        print(String(format: "| perfusion density absolute error | %.3f | %.3f | %.3f | <= 0.03 |", pErr.reduce(0, +) / Double(rs.count),
                     median(pErr), pErr.max() ?? .nan))
        print(String(format: "| skeleton length density relative error | %.1f%% | %.1f%% | %.1f%% | <= 10%% |", 100 * sErr.reduce(0, +) / Double(rs.count),
                     100 * median(sErr), 100 * (sErr.max() ?? .nan)))
        let sBias = rs.map { $0.trueSLD > 0 ? ($0.sld - $0.trueSLD) / $0.trueSLD : 0 }
        print(String(format: "| (same, signed: + = ours longer) | %+.1f%% | %+.1f%% | | |", 100 * sBias.reduce(0, +) / Double(rs.count), 100 * median(sBias)))
        let tErr = rs.map { $0.trueSLD > 0 ? abs($0.sldOnTrueMask - $0.trueSLD) / $0.trueSLD : 0 }
        print(String(format: "| (same, our graph of the TRUE vessel mask) | %.1f%% | %.1f%% | %.1f%% | |", 100 * tErr.reduce(0, +) / Double(rs.count),
                     100 * median(tErr), 100 * (tErr.max() ?? .nan)))
        let cErr = rs.map { $0.centrelineSLD > 0 ? abs($0.sld - $0.centrelineSLD) / $0.centrelineSLD : 0 }
        print(String(format: "| (ours against all simulated centrelines, sub-resolution included) | %.1f%% | %.1f%% | %.1f%% | |",
                     100 * cErr.reduce(0, +) / Double(rs.count), 100 * median(cErr), 100 * (cErr.max() ?? .nan)))
        print(String(format: "| FAZ found | %d / %d | | | |", rs.filter(\.fazFound).count, rs.count))
    }
}

/// The graph's biomarkers of one simulated eye next to the simulator's ground truth.
struct SyntheticAccuracy {
    var seed: UInt64, severity: Double
    var dice: Double
    var perfusion: Double, truePerfusion: Double
    var sld: Double, trueSLD: Double
    /// The simulator's length density of all visible centrelines (sub-resolution structure included), mm/mm2.
    var centrelineSLD: Double
    var fazArea: Double, trueFAZArea: Double
    var fazFound: Bool
    /// Skeleton length density of the graph built on the TRUE vessel mask (separates skeleton from segmentation error).
    var sldOnTrueMask: Double
    var fazRelativeError: Double { trueFAZArea > 0 ? abs(fazArea - trueFAZArea) / trueFAZArea : 0 }
    var perfusionAbsError: Double { abs(perfusion - truePerfusion) }
    var sldRelativeError: Double { trueSLD > 0 ? abs(sld - trueSLD) / trueSLD : 0 }

    static func measure(_ eye: SyntheticEye, _ builder: VesselGraphBuilder) throws -> SyntheticAccuracy {
        let a = try builder.analyze(eye.image)
        let b = a.graph.biomarkers, t = eye.truth
        return SyntheticAccuracy(
            seed: t.seed, severity: t.severity, dice: a.vesselMask.dice(eye.vesselMask),
            perfusion: b["perfusion_density"]!, truePerfusion: t.perfusionDensity,
            sld: b["skeleton_length_density_mm_per_mm2"]!, trueSLD: t.skeletonLengthDensityMMPerMM2,
            centrelineSLD: t.centrelineLengthDensityMMPerMM2 ?? 0,
            fazArea: b["faz_area_mm2"]!, trueFAZArea: t.fazAreaMM2, fazFound: a.graph.faz.count == 1,
            sldOnTrueMask: try builder.analyze(eye.image, vesselMask: eye.vesselMask).graph.biomarkers["skeleton_length_density_mm_per_mm2"]!)
    }
}
