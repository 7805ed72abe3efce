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
    @Option(help: "What to measure: inference, training or both (comma-separated); e.g. inference alone for a profile.")
    var phases: String = "inference,training"

    func validate() throws {
        let known: Set<String> = ["inference", "training"]
        let asked = phases.split(separator: ",").map(String.init)
        guard !asked.isEmpty, asked.allSatisfy(known.contains) else {
            throw ValidationError("--phases: expected inference, training or both, got '\(phases)'")
        }
        guard repeats >= 1, trainSteps >= 1 else { throw ValidationError("--repeats and --train-steps must be at least 1") }
    }

    func run() throws {
        var rows: [[String: Any]] = []
        let asked = Set(phases.split(separator: ",").map(String.init))
        print("| config | d | layers | heads | visual tokens | params | size MB | TTFT ms (CPU ms) [min] | patches / prefill ms | decode tok/s (per CPU s) [max] | train text tok/s (per CPU s) [max] | peak RSS MiB |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for name in configs.split(separator: ",").map(String.init) {
            var cfg = try VLMConfig.preset(name)
            cfg.vocabSize = 2000
            let model = try VLMModel(config: cfg, seed: 1)
            let params = model.parameterCount
            let inf = asked.contains("inference")
                ? try VLMBenchmark.inference(config: cfg, promptTokens: 16, decodeTokens: 128, repeats: repeats) : nil
            let train = asked.contains("training")
                ? try VLMBenchmark.training(config: cfg, batch: 16, textTokens: 128, steps: trainSteps) : nil
            let rss = VLMBenchmark.residentMemoryMiB()
            Tensor.releaseCachedMemory()
            let sizeMB = Double(params * 4) / 1e6
            let infText = inf.map {
                String(format: "%.2f (%.2f) [%.2f] | %.2f / %.2f | %.0f (%.0f) [%.0f]", $0.ttftMS, $0.ttftCPUMS, $0.ttftMinMS,
                       $0.patchesMS, $0.prefillMS, $0.decodeTokensPerSecond, $0.decodeTokensPerCPUSecond,
                       $0.decodeMaxTokensPerSecond)
            } ?? "- | - | -"
            let trainText = train.map {
                String(format: "%.0f (%.0f) [%.0f]", $0.textTokensPerSecond, $0.textTokensPerCPUSecond, $0.maxTextTokensPerSecond)
            } ?? "-"
            print(String(format: "| %@ | %d | %d | %d | %d | %d | %.2f | %@ | %@ | %.0f |", name,
                         cfg.dModel, cfg.layers, cfg.heads, cfg.visualTokens, params, sizeMB, infText, trainText,
                         rss?.peak ?? 0))
            var row: [String: Any] = ["config": name, "d_model": cfg.dModel, "layers": cfg.layers, "heads": cfg.heads,
                                      "visual_tokens": cfg.visualTokens, "image_size_px": cfg.imageSizePX, "vocab": 2000,
                                      "parameters": params, "size_mb": sizeMB,
                                      "rss_mib": rss?.current ?? 0, "peak_rss_mib": rss?.peak ?? 0]
            if let inf {
                row["ttft_ms"] = inf.ttftMS; row["ttft_min_ms"] = inf.ttftMinMS; row["ttft_cpu_ms"] = inf.ttftCPUMS
                row["patches_ms"] = inf.patchesMS; row["prefill_ms"] = inf.prefillMS
                row["decode_tokens_per_s"] = inf.decodeTokensPerSecond
                row["decode_max_tokens_per_s"] = inf.decodeMaxTokensPerSecond
                row["decode_tokens_per_cpu_s"] = inf.decodeTokensPerCPUSecond
            }
            if let train {
                row["train_text_tokens_per_s"] = train.textTokensPerSecond
                row["train_max_text_tokens_per_s"] = train.maxTextTokensPerSecond
                row["train_text_tokens_per_cpu_s"] = train.textTokensPerCPUSecond
            }
            rows.append(row)
        }
        let report: [String: Any] = [
            "benchmark": "vlm", "cores": ProcessInfo.processInfo.activeProcessorCount,
            "load_average_at_end": (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? "",
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
