import ArgumentParser
import Foundation
import Tensors
import VLM

/// `capillary bench-vlm`: TTFT, decode and training speed, size and memory of the VLM configs and the peer's.
struct BenchVLMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-vlm",
        abstract: "Benchmark the VLM: TTFT and decode tokens/s at batch 1, training text tokens/s, size, RSS.",
        discussion: """
        Random weights, vocabulary 2,000, 16 prompt tokens, 128 decoded tokens; training batch 16 with 128 text \
        tokens per image (plus the config's visual tokens). The peer row is the PyTorch peer's shape (d 192, \
        4 layers, 4 heads, 64 visual tokens from 128x128). Prints a markdown table, writes JSON.
        """)

    @Option(help: "JSON output.")
    var out: String = "bench-out/vlm.json"
    @Option(help: "Configs to measure (comma-separated).")
    var configs: String = "tiny,small,base,peer"
    @Option(help: "Generation repeats (median).")
    var repeats: Int = 10
    @Option(name: .customLong("train-steps"), help: "Training steps timed (median).")
    var trainSteps: Int = 5

    func run() throws {
        var rows: [[String: Any]] = []
        print("| config | d | layers | heads | visual tokens | params | size MB | TTFT ms | decode tok/s | train text tok/s | peak RSS MiB |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for name in configs.split(separator: ",").map(String.init) {
            var cfg = try VLMConfig.preset(name)
            cfg.vocabSize = 2000
            let model = try VLMModel(config: cfg, seed: 1)
            let params = model.parameterCount
            let inf = try VLMBenchmark.inference(config: cfg, promptTokens: 16, decodeTokens: 128, repeats: repeats)
            let train = try VLMBenchmark.training(config: cfg, batch: 16, textTokens: 128, steps: trainSteps)
            let rss = VLMBenchmark.residentMemoryMiB()
            Tensor.releaseCachedMemory()
            let sizeMB = Double(params * 4) / 1e6
            print(String(format: "| %@ | %d | %d | %d | %d | %d | %.2f | %.2f | %.0f | %.0f | %.0f |", name, cfg.dModel,
                         cfg.layers, cfg.heads, cfg.visualTokens, params, sizeMB, inf.ttftMS, inf.decodeTokensPerSecond,
                         train, rss?.peak ?? 0))
            rows.append(["config": name, "d_model": cfg.dModel, "layers": cfg.layers, "heads": cfg.heads,
                         "visual_tokens": cfg.visualTokens, "image_size_px": cfg.imageSizePX, "vocab": 2000,
                         "parameters": params, "size_mb": sizeMB, "ttft_ms": inf.ttftMS,
                         "decode_tokens_per_s": inf.decodeTokensPerSecond, "train_text_tokens_per_s": train,
                         "rss_mib": rss?.current ?? 0, "peak_rss_mib": rss?.peak ?? 0])
        }
        let report: [String: Any] = [
            "benchmark": "vlm", "cores": ProcessInfo.processInfo.activeProcessorCount,
            "prompt_tokens": 16, "decode_tokens": 128, "train_batch": 16, "train_text_tokens": 128,
            "peer_pytorch": ["ttft_ms": "4-6", "decode_tokens_per_s": "970-1010", "train_text_tokens_per_s": 5900],
            "targets_peer_config": ["ttft_ms_max": 5, "decode_tokens_per_s_min": 2000, "train_text_tokens_per_s_min": 6000],
            "rows": rows,
        ]
        let dir = (out as NSString).deletingLastPathComponent
        if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        try JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys])
            .write(to: URL(fileURLWithPath: out))
        print("wrote \(out)")
    }
}
