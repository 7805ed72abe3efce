import ArgumentParser
import Foundation
import Retina
import RPC
import VLM

/// `capillary explain`: stage and explain one image with the student VLM, streaming tokens to stdout as they
/// are generated: through capillaryd (the `explain` method, partial results), or in this process with
/// `--offline --store DIR`.
struct ExplainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Stage and explain an OCTA image with the trained VLM, printing tokens as they are generated.",
        discussion: """
            Through the daemon (default): capillary explain IMAGE [--socket PATH] [--json]; IMAGE may be \
            synthetic:SEED:STAGE[:SIZE]. Ctrl-C cancels the generation. --json prints one line per delta \
            ({"kind":"delta","text":...}) and a last line {"kind":"result","result":{...}}. Exit 69: no daemon.
            In this process: capillary explain IMAGE --offline --store DIR.
            """)

    @Argument(help: "OCTA image (PNG/BMP), or synthetic:SEED:STAGE[:SIZE] (daemon only).")
    var image: String
    @Flag(help: "Run in this process (no daemon).")
    var offline = false
    @Option(help: "Model store folder (with --offline).")
    var store: String?
    @OptionGroup var daemon: DaemonOptions
    @Flag(help: "Through the daemon: JSON lines (each delta, then the result).")
    var json = false
    @Option(name: .customLong("fov-mm"), help: "Through the daemon: field of view, mm (default from the width).")
    var fovMM: Double?
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

    func validate() throws {
        if offline && store == nil { throw ValidationError("--offline needs --store DIR (the model store)") }
        if !offline && store != nil { throw ValidationError("--store is for --offline; the daemon uses its own store") }
    }

    func run() throws {
        guard offline, let store else { return try runClient(explainThroughDaemon) }
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

extension ExplainCommand {
    /// Streams the explanation through capillaryd: each delta is written to stdout as it arrives.
    func explainThroughDaemon() throws {
        let connection = try daemon.connect()
        let interrupts = InterruptCounter()
        var params: JSONObject = ["image": try imageParameter(image, fovMM: fovMM), "model": .string(name),
                                  "maxTokens": .int(Int64(maxTokens)), "temperature": .double(Double(temperature)),
                                  "seed": .int(Int64(clamping: seed)), "topK": .int(Int64(topK)), "topP": .double(Double(topP))]
        if question != GroundTruthCaptions.diagnosisQuestion { params["question"] = .string(question) }
        let out = FileHandle.standardOutput
        let result = try connection.call("explain", params, partial: { value in
            if json { return printJSONLine(value) }
            if let text = value["text"]?.stringValue { out.write(Data(text.utf8)) }
        }, interrupts: interrupts)
        if json { return printJSONLine(["kind": "result", "result": result]) }
        out.write(Data("\n".utf8))
        let model = "\(result["model"]?["name"]?.stringValue ?? "?")@\(result["model"]?["version"]?.stringValue ?? "?")"
        FileHandle.standardError.write(Data(String(format: "[%d tokens, stop: %@, TTFT %.1f ms, %.0f tokens/s, model %@]\n",
            result["tokens"]?.intValue ?? 0, result["stopReason"]?.stringValue ?? "?", result["ttftMS"]?.doubleValue ?? 0,
            result["tokensPerSecond"]?.doubleValue ?? 0, model).utf8))
    }
}
