import Foundation
import Retina
import XCTest
@testable import VesselGraph

/// Real OCTA-500 6 mm eyes with manual masks, from `<repo>/../shared/real-octa/octa500-6mm` (skipped where
/// that folder is absent, e.g. on machines without the data).
final class RealOCTATests: XCTestCase {
    static var folder: String {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return repo.deletingLastPathComponent().appendingPathComponent("shared/real-octa/octa500-6mm").path
    }

    func testVesselDiceAndFAZAreaAgainstManualMasks() throws {
        let dir = Self.folder
        let ids = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [])
            .filter { $0.hasPrefix("ILM_OPL_") && $0.hasSuffix(".bmp") }.map { String($0.dropFirst(8).dropLast(4)) }.sorted()
        try XCTSkipIf(ids.isEmpty, "no real OCTA-500 images at \(dir)")
        var dices: [Double] = [], fazErrors: [Double] = []
        for id in ids {
            let img = try ImageIO.read(path: "\(dir)/ILM_OPL_\(id).bmp")
            XCTAssertEqual(img.pixelSizeMM, 0.015, accuracy: 1e-9)
            let a = try VesselGraphBuilder().analyze(img)
            let gtV = try ImageIO.readMask(path: "\(dir)/GT_Capillary_\(id).png")
            let gtF = try ImageIO.readMask(path: "\(dir)/GT_FAZ_\(id).png")
            dices.append(a.vesselMask.dice(gtV))
            XCTAssertEqual(a.graph.faz.count, 1, "eye \(id): FAZ not found")
            let gtArea = Double(gtF.count) * img.pixelAreaMM2
            fazErrors.append(abs(a.graph.biomarkers["faz_area_mm2"]! - gtArea) / gtArea)
            // The FAZ overlaps the manual one (it is found in the right place).
            XCTAssertGreaterThan(a.fazMask.dice(gtF), 0.7, "eye \(id)")
            XCTAssertGreaterThan(a.graph.vessel.count, 500, "eye \(id)")
            XCTAssertGreaterThan(a.graph.ica.count, 100, "eye \(id)")
        }
        // Eye 10003's manual mask is much sparser (density 0.20) than the other four (0.37-0.47) and than ours
        // (0.34), so its Dice is the lowest (0.674, docs/GRAPH_FORMAT.md); the mean is what the defaults keep.
        XCTAssertTrue(dices.allSatisfy { $0 > 0.65 }, "\(dices)")
        XCTAssertGreaterThan(dices.reduce(0, +) / Double(dices.count), 0.79, "\(dices)")
        let sorted = fazErrors.sorted()
        XCTAssertLessThan(sorted[sorted.count / 2], 0.2, "FAZ relative errors \(fazErrors)")
    }
}
