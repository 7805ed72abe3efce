import Foundation
import GraphNet
import VesselGraph
@testable import Knowledge
import Retina
import VLM
import XCTest

/// The exported dataset loads with VLM's `InstructionDataset`, keeps the manifest's splits, carries the
/// findings alongside, and is byte-identical for the same input.
final class ExportTests: XCTestCase {
    func images(folder: String) throws -> [ImageKnowledge] {
        let b = KnowledgeBuilder(references: Fixtures.references(), classNames: Fixtures.classNames, seed: 5)
        let d = Fixtures.diseasedGraph(), h = Fixtures.healthyGraph()
        var out: [ImageKnowledge] = []
        for (i, (g, s, split)) in [(d, "npdr", "train"), (h, "healthy", "train"), (d, "pdr", "val"), (h, "healthy", "test")].enumerated() {
            let p = Fixtures.prediction(s, s == "healthy" ? [0.7, 0.2, 0.1] : [0.1, 0.3, 0.6])
            out.append(try b.knowledge(id: "eye_\(i)", imagePath: "\(folder)/images/eye_\(i).png", split: split, label: s, graph: g,
                                       prediction: p, evidence: nil, evidenceSource: "none"))
        }
        return out
    }

    func tempDir(_ name: String) -> String {
        let p = (NSTemporaryDirectory() as NSString).appendingPathComponent("knowledge-\(name)-\(getpid())")
        try? FileManager.default.removeItem(atPath: p)
        return p
    }

    func testExportLoadsInVLMWithSplitsAndFindings() throws {
        let cohort = tempDir("cohort"), out = (cohort as NSString).appendingPathComponent("knowledge")
        defer { try? FileManager.default.removeItem(atPath: cohort) }
        let imgs = try images(folder: cohort)
        let summary = try KnowledgeExport.write(imgs, to: out)
        XCTAssertEqual(summary.counts, ["train": 2, "val": 1, "test": 1])
        for split in ["train", "val", "test"] {
            let folder = try InstructionDataset.load(path: out, split: split)
            let jsonl = try InstructionDataset.load(path: (out as NSString).appendingPathComponent("\(split).jsonl"))
            let all = try InstructionDataset.load(path: (out as NSString).appendingPathComponent("all.jsonl"), split: split)
            let expected = imgs.filter { $0.split == split }
            for ds in [folder, jsonl, all] {
                XCTAssertEqual(ds.records.map(\.id), expected.map(\.id))
                for (r, k) in zip(ds.records, expected) {
                    XCTAssertEqual(r.turns, k.turns)
                    XCTAssertEqual(r.split, split)
                    XCTAssertEqual(URL(fileURLWithPath: r.imagePath).standardizedFileURL.path,
                                   URL(fileURLWithPath: k.imagePath).standardizedFileURL.path)
                    XCTAssertEqual(r.diagnosisTurn?.question, KnowledgeText.diagnosisQuestion)
                    XCTAssertEqual(StageLine.parse(r.diagnosisTurn!.answer)?.rawValue, k.stage)
                }
            }
        }
        // The image path is relative to the dataset file, and the findings travel alongside.
        let line = try String(contentsOfFile: (out as NSString).appendingPathComponent("train.jsonl"), encoding: .utf8).split(separator: "\n")[0]
        let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
        XCTAssertEqual(o["image"] as? String, "../images/eye_0.png")
        let findings = try JSONDecoder().decode([Finding].self, from: JSONSerialization.data(withJSONObject: o["findings"]!))
        XCTAssertEqual(findings, imgs[0].findings)
        XCTAssertEqual(o["facts"] as? [String], imgs[0].facts)
        XCTAssertEqual(o["evidence_source"] as? String, "none")
        let conv = o["conversations"] as! [[String: String]]
        XCTAssertEqual(conv.count, 10)
        XCTAssertTrue(conv[0]["value"]!.hasPrefix("<image>\n"))
    }

    func testExportIsDeterministic() throws {
        let a = tempDir("a"), b = tempDir("b")
        defer { try? FileManager.default.removeItem(atPath: a); try? FileManager.default.removeItem(atPath: b) }
        try KnowledgeExport.write(try images(folder: "/data/c"), to: a)
        try KnowledgeExport.write(try images(folder: "/data/c"), to: b)
        for f in ["train.json", "train.jsonl", "val.json", "test.jsonl", "all.jsonl"] {
            let x = FileManager.default.contents(atPath: (a as NSString).appendingPathComponent(f))
            XCTAssertNotNil(x)
            XCTAssertEqual(x, FileManager.default.contents(atPath: (b as NSString).appendingPathComponent(f)), f)
        }
    }
}
