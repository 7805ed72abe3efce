import Common
import Foundation
import Retina
@testable import VLM

/// Small synthetic inputs shared by the VLM tests.
enum Fixtures {
    /// A tiny config with `vocab` tokens.
    static func tinyConfig(vocab: Int) -> VLMConfig {
        var c = VLMConfig.tiny
        c.vocabSize = vocab
        return c
    }

    /// A `side` x `side` image whose pattern depends on `kind` (stripes, blobs, gradient, ...), seeded.
    static func image(kind: Int, side: Int = 32, seed: UInt64 = 1) -> GrayImage {
        var g = SeededGenerator(seed: seed &+ UInt64(kind) &* 7919)
        var px = [Float](repeating: 0, count: side * side)
        for y in 0..<side {
            for x in 0..<side {
                let base: Float
                switch kind % 4 {
                case 0: base = (x / 4) % 2 == 0 ? 0.9 : 0.1
                case 1: base = (y / 4) % 2 == 0 ? 0.9 : 0.1
                case 2: base = Float(x + y) / Float(2 * side)
                default: base = ((x - side / 2) * (x - side / 2) + (y - side / 2) * (y - side / 2)) < side * side / 9 ? 0.05 : 0.8
                }
                px[y * side + x] = min(1, max(0, base + 0.05 * Float(g.normal())))
            }
        }
        return GrayImage(width: side, height: side, pixelSizeMM: 3.0 / Double(side), pixels: px)
    }

    /// A fresh temporary folder.
    static func tempDir(_ name: String) -> String {
        let d = NSTemporaryDirectory() + "vlmtests-\(name)-\(ProcessInfo.processInfo.processIdentifier)-\(UInt64.random(in: 0..<UInt64.max))"
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    /// Four image/question/answer records written as PNGs + a LLaVA JSON file in `dir`; returns the file path.
    static func writeDataset(in dir: String, answers: [String]) throws -> String {
        try FileManager.default.createDirectory(atPath: dir + "/images", withIntermediateDirectories: true)
        var records: [InstructionRecord] = []
        for (i, a) in answers.enumerated() {
            let path = dir + "/images/img\(i).png"
            try ImageIO.writePNG(image(kind: i), to: path)
            records.append(InstructionRecord(id: "img\(i)", imagePath: path,
                                             turns: [InstructionTurn(question: "What is the stage?", answer: a)],
                                             split: "train"))
        }
        let file = dir + "/data.json"
        try InstructionDataset(records: records).write(to: file)
        return file
    }
}
