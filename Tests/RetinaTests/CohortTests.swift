import Foundation
import XCTest
@testable import Retina

/// Cohort folders, manifests and dataset import.
final class CohortTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("capillary-cohort-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func sub(_ name: String) -> String { (dir as NSString).appendingPathComponent(name) }

    func testCohortFolderIsByteIdenticalForTheSameSeedAndMatchesSingleEyeGeneration() throws {
        let config = SimulatorConfig(sizePX: 96, fovMM: 3)
        let gen = CohortGenerator(config: config)
        let a = try gen.write(count: 5, seed: 77, mix: .standard, to: sub("a"))
        _ = try gen.write(count: 5, seed: 77, mix: .standard, to: sub("b"))
        let fm = FileManager.default
        let files = try fm.subpathsOfDirectory(atPath: sub("a")).filter { !$0.hasSuffix("/") && ($0.contains(".")) }.sorted()
        XCTAssertEqual(files.count, 5 * 5 + 2)
        for f in files {
            XCTAssertEqual(fm.contents(atPath: sub("a/" + f)), fm.contents(atPath: sub("b/" + f)), f)
        }
        // Each image equals a lone generate() of its seed: no state leaks between eyes or threads.
        let e = a.entries[3]
        let lone = OCTASimulator(config: config).generate(seed: e.seed!, severity: e.severity!)
        XCTAssertEqual(try ImageIO.pngData(lone.image), fm.contents(atPath: a.resolve(e.path)))
        let mask = try ImageIO.readMask(path: a.resolve(e.vesselMaskPath!))
        XCTAssertEqual(mask, lone.vesselMask)
        let meta = try JSONDecoder().decode(GroundTruth.self, from: fm.contents(atPath: a.resolve(e.metaPath!))!)
        XCTAssertEqual(meta.stage, e.label)
        XCTAssertEqual(meta.seed, e.seed)
    }

    func testPlanHasExactStageCountsAndStratifiedSplits() throws {
        let plan = CohortGenerator.plan(count: 200, seed: 3, mix: try StageMix(parsing: "healthy:0.4,npdr:0.35,pdr:0.25"))
        XCTAssertEqual(plan.filter { $0.stage == .healthy }.count, 80)
        XCTAssertEqual(plan.filter { $0.stage == .npdr }.count, 70)
        XCTAssertEqual(plan.filter { $0.stage == .pdr }.count, 50)
        for s in DRStage.allCases {
            let p = plan.filter { $0.stage == s }
            let val = p.filter { $0.split == .val }.count, test = p.filter { $0.split == .test }.count
            XCTAssertEqual(Double(val), Double(p.count) * 0.15, accuracy: 1)
            XCTAssertEqual(Double(test), Double(p.count) * 0.15, accuracy: 1)
            XCTAssert(p.allSatisfy { SeverityScale.stage($0.severity) == s })
        }
        XCTAssertEqual(Set(plan.map(\.seed)).count, 200)
        XCTAssert(plan.allSatisfy { $0.seed < 1 << 53 }, "seeds must be exact in JSON readers that use doubles")
        XCTAssertEqual(plan, CohortGenerator.plan(count: 200, seed: 3, mix: try StageMix(parsing: "healthy:0.4,npdr:0.35,pdr:0.25")))
        XCTAssertThrowsError(try StageMix(parsing: "healthy:0.4,early:0.6")) { e in
            XCTAssertTrue("\(e)".contains("--stages"))
        }
    }

    func testManifestRoundTripsThroughJSONLAndCSV() throws {
        let m = CohortManifest(root: dir, entries: [
            CohortEntry(id: "eye_00001", path: "images/eye_00001.png", label: .npdr, grade: 2, split: .val,
                        severity: 0.51, seed: 18_446_744_073_709_551_615, vesselMaskPath: "masks/eye_00001_vessels.png",
                        fazMaskPath: "masks/eye_00001_faz.png", dropoutMaskPath: "masks/eye_00001_dropout.png",
                        metaPath: "meta/eye_00001.json", fovMM: 3),
            CohortEntry(id: "odd, \"name\"", path: "x.png"),
        ])
        try m.save()
        let back = try CohortManifest.load(path: sub("manifest.jsonl"))
        XCTAssertEqual(back, m)
        let csv = try String(contentsOfFile: sub("manifest.csv"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(csv.count, 3)
        XCTAssertTrue(csv[0].hasPrefix("id,path,label,grade,split,severity,seed"))
        XCTAssertTrue(csv[1].hasPrefix("eye_00001,images/eye_00001.png,npdr,2,val,0.510000,18446744073709551615,"))
        XCTAssertTrue(csv[2].hasPrefix("\"odd, \"\"name\"\"\",x.png,"))
        // A broken line is reported with file and line number.
        try "{\"id\":\"a\",\"path\":\"a.png\"}\n{\"id\":1}\n".write(toFile: sub("bad.jsonl"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try CohortManifest.load(path: sub("bad.jsonl"))) { e in
            guard case CohortError.badManifestLine(let p, let line, _) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(line, 2); XCTAssertTrue(p.hasSuffix("bad.jsonl"))
        }
    }

    func writeImage(_ name: String, width: Int = 32) throws {
        let img = GrayImage(width: width, height: width, pixelSizeMM: 0.01, bytes: (0..<(width * width)).map { UInt8($0 % 251) })
        try ImageIO.writePNG(img, to: sub("drac/" + name))
    }

    func testDRACStyleFolderImportsGoodFilesAndReportsTheCorruptOne() throws {
        try FileManager.default.createDirectory(atPath: sub("drac"), withIntermediateDirectories: true)
        try writeImage("001.png"); try writeImage("002.png"); try writeImage("004.png")
        // A truncated PNG: right magic, broken body.
        let good = try ImageIO.pngData(GrayImage(width: 32, height: 32, pixelSizeMM: 0.01))
        try good.prefix(40).write(to: URL(fileURLWithPath: sub("drac/003.png")))
        try """
        image name,DR grade
        001.png,0
        002.png,2
        003.png,1
        004,1
        005.png,0
        006.png,7

        """.write(toFile: sub("drac/labels.csv"), atomically: true, encoding: .utf8)
        let report = try DatasetImport.load(path: sub("drac"), fovMM: 12)
        XCTAssertEqual(report.manifest.entries.map(\.id), ["001", "002", "004"])
        XCTAssertEqual(report.manifest.entries.map(\.label), [.healthy, .pdr, .npdr])
        XCTAssertEqual(report.manifest.entries.map(\.fovMM), [12, 12, 12])
        XCTAssertEqual(report.failures.count, 3)
        let text = report.failures.map(\.description).joined(separator: "\n")
        XCTAssertTrue(text.contains("003.png"), text)          // corrupt image, named
        XCTAssertTrue(text.contains("005.png"), text)          // listed but missing
        XCTAssertTrue(text.contains("labels.csv:7"), text)     // grade 7 on line 7
        XCTAssertTrue(report.failures.contains { if case .badImage(let p, _) = $0 { return p.hasSuffix("003.png") } else { return false } })
    }

    func testBareFolderAndManifestImports() throws {
        try FileManager.default.createDirectory(atPath: sub("drac"), withIntermediateDirectories: true)
        try writeImage("a.png", width: 304); try writeImage("b.png", width: 400)
        try "not an image".write(toFile: sub("drac/c.png"), atomically: true, encoding: .utf8)
        let bare = try DatasetImport.load(path: sub("drac"))
        XCTAssertEqual(bare.manifest.entries.map(\.id), ["a", "b"])
        XCTAssertEqual(bare.manifest.entries.map(\.fovMM), [3, 6])
        XCTAssertNil(bare.manifest.entries[0].label)
        XCTAssertEqual(bare.failures.count, 1)
        XCTAssertTrue(bare.failures[0].description.contains("c.png"))

        let gen = CohortGenerator(config: SimulatorConfig(sizePX: 64, fovMM: 3))
        let m = try gen.write(count: 3, seed: 5, mix: .standard, to: sub("cohort"))
        try FileManager.default.removeItem(atPath: m.resolve(m.entries[1].path))
        let viaManifest = try DatasetImport.load(path: sub("cohort/manifest.jsonl"))
        XCTAssertEqual(viaManifest.manifest.entries.map(\.id), [m.entries[0].id, m.entries[2].id])
        XCTAssertEqual(viaManifest.manifest.entries[0].label, m.entries[0].label)
        XCTAssertEqual(viaManifest.failures.count, 1)
        XCTAssertThrowsError(try DatasetImport.load(path: sub("nope"))) { e in
            XCTAssertEqual(e as? CohortError, .notFound(path: self.sub("nope")))
        }
    }
}
