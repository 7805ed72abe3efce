import ArgumentParser
import Common
import Foundation
import Retina

/// `capillary cohort-report`: per-stage biomarkers, stage separability of global image statistics, an
/// example grid, and (with --real) a numeric comparison with real OCTA-500 projections.
struct CohortReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cohort-report",
        abstract: "Report on a synthetic cohort: biomarkers per stage, global-statistic separability, example grid, real-data comparison.")

    @Option(help: "Number of eyes (stage mix healthy:0.4,npdr:0.35,pdr:0.25 unless --stages).")
    var count: Int = 60

    @Option(help: "Cohort seed.")
    var seed: UInt64 = 1

    @Option(help: "Stage mix.")
    var stages: String = "healthy:0.34,npdr:0.33,pdr:0.33"

    @Option(help: "Image size, px.")
    var size: Int = 304

    @Option(name: .customLong("fov-mm"), help: "Field of view, mm.")
    var fovMM: Double = 3

    @Option(help: "Write example images (one per stage) to this PNG and their ground truth to <name>-truth.png.")
    var grid: String?

    @Option(help: "Folder with real OCTA (expects octa500-6mm/ILM_OPL_*.bmp and GT_*.png) to compare with.")
    var real: String?

    @Option(name: .customLong("side-by-side"), help: "With --real: write real vs synthetic 6 mm images here (never commit it: licence).")
    var sideBySide: String?

    func run() throws {
        let config = SimulatorConfig(sizePX: size, fovMM: fovMM)
        if let p = config.validationError() { throw ValidationError(p) }
        let plan = CohortGenerator.plan(count: count, seed: seed, mix: try StageMix(parsing: stages))
        let sim = OCTASimulator(config: config)
        let eyes = Self.generate(sim, plan)

        print("## Synthetic cohort: \(count) eyes, seed \(seed), \(size) px, \(fovMM) mm (capillary cohort-report)\n")
        print("| stage | n | FAZ area mm2 | FAZ circularity | perfusion density | skeleton length density mm/mm2 | non-perfusion mm2 | microaneurysms | NV tufts |")
        print("|---|---|---|---|---|---|---|---|---|")
        for s in DRStage.allCases {
            let t = eyes.filter { $0.truth.stage == s }.map(\.truth)
            guard !t.isEmpty else { continue }
            func f(_ k: (GroundTruth) -> Double, _ d: Int) -> String { Self.summary(t.map(k), digits: d) }
            print("| \(s.rawValue) | \(t.count) | \(f({ $0.fazAreaMM2 }, 3)) | \(f({ $0.fazCircularity }, 2)) | \(f({ $0.perfusionDensity }, 3)) | "
                  + "\(f({ $0.skeletonLengthDensityMMPerMM2 }, 1)) | \(f({ $0.nonPerfusionAreaMM2 }, 2)) | "
                  + "\(f({ Double($0.microaneurysmCount) }, 1)) | \(f({ Double($0.neovascularizationCount) }, 1)) |")
        }
        print("\nValues: mean +/- sd [min, max].\n")
        print("## Best 1-D threshold classifier per global image statistic (balanced accuracy, 3 stages, chance 0.33)\n")
        let stats = eyes.map { GlobalImageStatistics.compute($0.image) }
        let labels = eyes.map(\.truth.stage)
        print("| statistic | " + GlobalImageStatistics.names.joined(separator: " | ") + " |")
        print("|---|" + String(repeating: "---|", count: GlobalImageStatistics.names.count))
        var row: [String] = []
        for k in GlobalImageStatistics.names.indices {
            row.append(String(format: "%.2f", StageSeparability.bestThresholdBalancedAccuracy(values: stats.map { $0[k] }, labels: labels)))
        }
        print("| balanced accuracy | " + row.joined(separator: " | ") + " |")

        if let g = grid { try Self.writeGrid(eyes: eyes, to: g); print("\nwrote example images \(g) and their ground truth \(Self.truthPath(g))") }
        if let r = real { try compareWithReal(folder: r) }
    }

    static func generate(_ sim: OCTASimulator, _ plan: [PlannedEye]) -> [SyntheticEye] {
        var out = [SyntheticEye?](repeating: nil, count: plan.count)
        let lock = NSLock()
        Parallel.forEach(plan.count, minChunk: 1) { range in
            for i in range {
                let e = sim.generate(seed: plan[i].seed, severity: plan[i].severity)
                lock.lock(); out[i] = e; lock.unlock()
            }
        }
        return out.map { $0! }
    }

    static func summary(_ v: [Double], digits: Int) -> String {
        let n = Double(v.count)
        let m = v.reduce(0, +) / n
        let sd = (v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / max(1, n - 1)).squareRoot()
        let f = "%.\(digits)f"
        return String(format: "\(f) +/- \(f) [\(f), \(f)]", m, sd, v.min()!, v.max()!)
    }

    /// Example eyes, one per stage (the eye whose severity is nearest the stage's middle), left to right
    /// healthy, NPDR, PDR: `path` gets the images (8-bit gray), `<path>-truth.png` their ground truth drawn
    /// on black (vessel mask white, FAZ cyan, dropout red, microaneurysms yellow rings, neovascular tufts
    /// magenta rings), in the same layout so the two pictures line up. Gray and flat colours keep them small.
    static func writeGrid(eyes: [SyntheticEye], to path: String) throws {
        var picks: [SyntheticEye] = []
        for s in DRStage.allCases {
            let r = SeverityScale.range(of: s), mid = (r.lo + r.hi) / 2
            if let e = eyes.filter({ $0.truth.stage == s }).min(by: { abs($0.truth.severity - mid) < abs($1.truth.severity - mid) }) {
                picks.append(e)
            }
        }
        guard let w = picks.first?.image.width else { return }
        let gap = 4, W = picks.count * w + (picks.count - 1) * gap
        var gray = GrayImage(width: W, height: w, pixelSizeMM: picks[0].image.pixelSizeMM, fill: 1)
        var truthPic = RGBImage(width: W, height: w, fill: (255, 255, 255))
        for (ci, e) in picks.enumerated() {
            let ox = ci * (w + gap)
            var truth = RGBImage(width: w, height: w)
            for k in 0..<(w * w) {
                if e.vesselMask.bits[k] != 0 { truth.plot(k % w, k / w, (255, 255, 255)) }
                if e.fazMask.bits[k] != 0 { truth.plot(k % w, k / w, (0, 170, 230)) }
                if e.dropoutMask.bits[k] != 0 { truth.plot(k % w, k / w, (200, 30, 30), alpha: e.vesselMask.bits[k] != 0 ? 0.5 : 1) }
            }
            for l in e.lesions where l.type != .nonPerfusion {
                let c: (UInt8, UInt8, UInt8) = l.type == .microaneurysm ? (255, 220, 0) : (255, 0, 255)
                let rpx = max(3, l.radiusUM / 1000 / e.image.pixelSizeMM + (l.type == .microaneurysm ? 2 : 0))
                for a in 0..<90 {
                    let t = Double(a) * 2 * Double.pi / 90
                    truth.plot(Int(l.centerPX[0] + rpx * cos(t)), Int(l.centerPX[1] + rpx * sin(t)), c)
                }
            }
            for y in 0..<w { for x in 0..<w {
                gray[ox + x, y] = e.image[x, y]
                let s = 3 * (y * w + x), d = 3 * (y * W + ox + x)
                truthPic.rgb[d] = truth.rgb[s]; truthPic.rgb[d + 1] = truth.rgb[s + 1]; truthPic.rgb[d + 2] = truth.rgb[s + 2]
            } }
        }
        try ImageIO.writePNG(gray, to: path)
        try ImageIO.writePNG(truthPic, to: Self.truthPath(path))
        print("example eyes: " + picks.map { String(format: "%@ s=%.2f", $0.truth.stage.rawValue, $0.truth.severity) }.joined(separator: ", "))
    }

    static func truthPath(_ path: String) -> String {
        ((path as NSString).deletingPathExtension) + "-truth.png"
    }

    /// Image statistics of real OCTA-500 6 mm projections (with their manual masks) next to synthetic
    /// 400 px / 6 mm healthy eyes (superficial slab with deep bleed-through: OCTA-500's manual vessel
    /// masks mark what is visible in ILM-OPL, which is dominated by the superficial plexus).
    func compareWithReal(folder: String) throws {
        let dir = (folder as NSString).appendingPathComponent("octa500-6mm")
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasPrefix("ILM_OPL_") }.sorted()
        guard !files.isEmpty else { throw ValidationError("\(dir): no ILM_OPL_*.bmp files") }
        print("\n## Real OCTA-500 6 mm (400 px) vs synthetic 400 px / 6 mm healthy eyes, superficial slab (capillary cohort-report --real)\n")
        print("| image | mean | std | p05 | p50 | p95 | vessel-mask density | FAZ area mm2 | mean vessel width um | I vessel | I background | I FAZ |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        var morphoRows: [String] = []
        var realImages: [GrayImage] = []
        for f in files {
            let id = String(f.dropFirst("ILM_OPL_".count).dropLast(4))
            let img = try ImageIO.read(path: (dir as NSString).appendingPathComponent(f), pixelSizeMM: 6.0 / 400)
            let ves = try ImageIO.readMask(path: (dir as NSString).appendingPathComponent("GT_Capillary_\(id).png"))
            let faz = try ImageIO.readMask(path: (dir as NSString).appendingPathComponent("GT_FAZ_\(id).png"))
            realImages.append(img)
            Self.printComparisonRow(name: "real \(id)", image: img, vessels: ves, faz: faz)
            morphoRows.append(Self.morphometryRow(name: "real \(id)", image: img, vessels: ves, faz: faz))
        }
        let cfg = SimulatorConfig(sizePX: 400, fovMM: 6, plexus: .superficial)
        let sim = OCTASimulator(config: cfg)
        var synth: [GrayImage] = []
        for i in 0..<files.count {
            let e = sim.generate(seed: seed &+ UInt64(i), severity: 0.1)
            synth.append(e.image)
            Self.printComparisonRow(name: "synthetic healthy \(i + 1)", image: e.image, vessels: e.vesselMask, faz: e.fazMask)
            morphoRows.append(Self.morphometryRow(name: "synthetic healthy \(i + 1)", image: e.image, vessels: e.vesselMask, faz: e.fazMask))
        }
        print("\nmean vessel width = 2 x mask area / mask perimeter (4-connected edges x pi/4), um.")
        print("\n### Vessel-mask morphometry and texture, same images (VesselMaskMorphometry, OCTATexture)\n")
        print(Self.morphometryHeader)
        for r in morphoRows { print(r) }
        print("\n3 mm / 304 px synthetic eyes (no real 3 mm image here), same measures:\n")
        print(Self.morphometryHeader)
        let sim3 = OCTASimulator(config: SimulatorConfig())
        for i in 0..<files.count {
            let e = sim3.generate(seed: seed &+ UInt64(i), severity: 0.1)
            print(Self.morphometryRow(name: "synthetic 3 mm healthy \(i + 1)", image: e.image, vessels: e.vesselMask, faz: e.fazMask))
        }
        print("\nwidth: at each skeleton pixel, mask pixels owned by (nearest to) the skeleton pixels within a 7x7 window / their skeleton length (p10 / median / p90), um; "
              + "ICA: intercapillary areas (regions outside vessels and FAZ not touching the border); "
              + "lag-1 r: correlation of the 5x5 high-pass residual between neighbours; HF power: share of row/column power at 0.25-0.5 cycles/px.")
        if let out = sideBySide {
            let w = 400, gap = 4
            var pic = RGBImage(width: 2 * w + gap, height: files.count * (w + gap) - gap, fill: (255, 255, 255))
            for r in 0..<files.count {
                for (c, img) in [realImages[r], synth[r]].enumerated() {
                    let g = img.bytes()
                    for y in 0..<min(w, img.height) { for x in 0..<min(w, img.width) {
                        let d = 3 * ((r * (w + gap) + y) * pic.width + c * (w + gap) + x)
                        let v = g[y * img.width + x]
                        pic.rgb[d] = v; pic.rgb[d + 1] = v; pic.rgb[d + 2] = v
                    } }
                }
            }
            try ImageIO.writePNG(pic, to: out)
            print("wrote side-by-side (left real, right synthetic) \(out); it contains real images: do not commit it")
        }
    }

    static let morphometryHeader = "| image | perfusion density | skeleton density mm/mm2 | width p10 / median / p90 um | area/length width um | ICA per mm2 | ICA median diameter um | lag-1 r | residual sd / sd | HF power |\n|---|---|---|---|---|---|---|---|---|---|"

    static func morphometryRow(name: String, image: GrayImage, vessels: BinaryMask, faz: BinaryMask) -> String {
        let m = VesselMaskMorphometry.measure(mask: vessels, faz: faz, pixelSizeMM: image.pixelSizeMM)
        let t = OCTATexture.measure(image)
        return String(format: "| %@ | %.3f | %.1f | %.0f / %.0f / %.0f | %.0f | %.0f | %.0f | %.2f | %.2f | %.3f |", name,
                      m.perfusionDensity, m.skeletonLengthDensityMMPerMM2, m.widthP10UM, m.widthMedianUM, m.widthP90UM,
                      m.meanWidthUM, m.intercapillaryAreasPerMM2, m.intercapillaryMedianDiameterUM,
                      t.residualLag1Correlation, t.residualRelativeSD, t.highFrequencyPowerFraction)
    }

    static func printComparisonRow(name: String, image: GrayImage, vessels: BinaryMask, faz: BinaryMask) {
        let s = GlobalImageStatistics.compute(image)
        var iv = 0.0, nv = 0, ib = 0.0, nb = 0, ifz = 0.0, nf = 0
        for k in image.pixels.indices {
            let v = Double(image.pixels[k])
            if faz.bits[k] != 0 { ifz += v; nf += 1 } else if vessels.bits[k] != 0 { iv += v; nv += 1 } else { ib += v; nb += 1 }
        }
        let w = vessels.width
        var edges = 0
        for y in 0..<vessels.height { for x in 0..<w where vessels.bits[y * w + x] != 0 {
            if x == 0 || vessels.bits[y * w + x - 1] == 0 { edges += 1 }
            if x == w - 1 || vessels.bits[y * w + x + 1] == 0 { edges += 1 }
            if y == 0 || vessels.bits[(y - 1) * w + x] == 0 { edges += 1 }
            if y == vessels.height - 1 || vessels.bits[(y + 1) * w + x] == 0 { edges += 1 }
        } }
        let widthUM = 2 * Double(vessels.count) / max(1, Double(edges) * Double.pi / 4) * image.pixelSizeMM * 1000
        print(String(format: "| %@ | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.0f | %.2f | %.2f | %.2f |", name,
                     s[0], s[1], s[3], s[6], s[9], vessels.fraction, Double(faz.count) * image.pixelAreaMM2, widthUM,
                     iv / Double(max(1, nv)), ib / Double(max(1, nb)), ifz / Double(max(1, nf))))
    }
}
