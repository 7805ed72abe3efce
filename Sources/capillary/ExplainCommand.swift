import ArgumentParser
import Foundation
import Retina
import VLM

/// `capillary explain`: stage and explain one image with the student VLM, streaming tokens to stdout.
struct ExplainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Stage and explain an OCTA image with the trained VLM, printing tokens as they are generated.")

    @Argument(help: "OCTA image (PNG/BMP).")
    var image: String
    @Flag(help: "Run in this process (no daemon).")
    var offline = false
    @Option(help: "Model store folder.")
    var store: String
    @Option(help: "Model name in the store.")
    var name: String = "vlm"
    @Option(help: "Question to ask.")
    var question: String = GroundTruthCaptions.diagnosisQuestion
    @Option(help: "Sampling seed.")
    var seed: UInt64 = 0
    @Option(help: "Temperature (0 = greedy).")
    var temperature: Float = 0
    @Option(name: .customLong("top-k"), help: "Top-k (0 = off).")
    var topK: Int = 0
    @Option(name: .customLong("top-p"), help: "Top-p (1 = off).")
    var topP: Float = 1
    @Option(name: .customLong("max-tokens"), help: "Most tokens to generate.")
    var maxTokens: Int = 160

    func run() throws {
        guard offline else {
            throw ValidationError("only --offline is available: the CLI does not talk to capillaryd yet (use clients/python, clients/node or clients/nvim)")
        }
        let loaded = try VLMStore.load(store: store, name: name)
        let img = try ImageIO.read(path: image)
        let options = GenerationOptions(maxTokens: maxTokens, temperature: temperature, topK: topK, topP: topP, seed: seed)
        let out = FileHandle.standardOutput
        let result = try loaded.generator.generate(image: img, question: question, options: options) { token in
            out.write(Data(token.text.utf8))
        }
        out.write(Data("\n".utf8))
        FileHandle.standardError.write(Data(String(format: "[%d tokens, stop: %@, TTFT %.1f ms, %.0f tokens/s]\n",
            result.tokenIDs.count, result.stopReason.rawValue, result.timeToFirstTokenSeconds * 1000,
            result.decodeSeconds > 0 ? Double(max(0, result.tokenIDs.count - 1)) / result.decodeSeconds : 0).utf8))
    }
}
