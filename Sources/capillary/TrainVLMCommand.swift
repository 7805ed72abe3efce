import ArgumentParser
import Foundation
import VLM

/// `capillary train-vlm`: two-stage training of the student VLM into the model store.
struct TrainVLMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-vlm",
        abstract: "Train the student VLM (stage 1 alignment on Stage: lines, stage 2 instruction tuning).",
        discussion: """
        --data is a LLaVA JSON/JSONL file (records filtered by their "split" field) or a folder with \
        train.json(l). Checkpoints go to STORE/NAME/checkpoint/ every --checkpoint-every steps; running the \
        same command again after a kill resumes there. The model lands in STORE/NAME/vN/. Progress lines go \
        to stderr; --log FILE also writes one JSON line per step.
        """)

    @Option(help: "Instruction dataset (file or folder).")
    var data: String
    @Option(help: "Split to train on.")
    var split: String = "train"
    @Option(help: "Config: tiny, small, base or peer.")
    var config: String = "small"
    @Option(help: "Model store folder.")
    var store: String
    @Option(help: "Model name in the store.")
    var name: String = "vlm"
    @Option(name: .customLong("align-steps"), help: "Stage 1 steps.")
    var alignSteps: Int = 150
    @Option(help: "Stage 2 steps.")
    var steps: Int = 600
    @Option(help: "Batch size.")
    var batch: Int = 16
    @Option(help: "Peak learning rate.")
    var lr: Float = 2e-3
    @Option(help: "Warmup steps per stage.")
    var warmup: Int = 30
    @Option(help: "Maximum vocabulary size.")
    var vocab: Int = 2000
    @Option(help: "Seed (weights and data order).")
    var seed: UInt64 = 1
    @Option(name: .customLong("checkpoint-every"), help: "Steps between checkpoints.")
    var checkpointEvery: Int = 50
    @Option(help: "Write JSON progress lines to this file.")
    var log: String?
    @Option(help: "Weight of the vision-encoder distillation loss (stage, and the graph biomarkers when the data has them, predicted from the pooled visual tokens); 0 = off.")
    var distill: Float = 0
    @Flag(help: "Stage 1 draws its examples class-balanced.")
    var balanced = false
    @Flag(help: "Stage 1 shows each image under a random rotation/mirror.")
    var augment = false

    func run() throws {
        let cfg = try VLMConfig.preset(config)
        let options = TrainingOptions(alignmentSteps: alignSteps, instructionSteps: steps, batchSize: batch,
                                      learningRate: lr, minLearningRate: lr / 20, warmupSteps: warmup, seed: seed,
                                      checkpointEvery: checkpointEvery, distillWeight: distill,
                                      balancedAlignment: balanced, augmentAlignment: augment)
        var logHandle: FileHandle?
        var announced = false
        if let log {
            FileManager.default.createFile(atPath: log, contents: nil)
            logHandle = FileHandle(forWritingAtPath: log)
            logHandle?.seekToEndOfFile()
        }
        let result = try VLMTrainingRun.run(data: data, split: split, config: cfg, options: options, store: store,
                                            name: name, maxVocab: vocab) { p in
            if !announced {
                announced = true
                if p.step > 1 { FileHandle.standardError.write(Data("resuming from the checkpoint at step \(p.step - 1)\n".utf8)) }
            }
            if p.step == 1 || p.step % 10 == 0 || p.step == p.totalSteps {
                FileHandle.standardError.write(Data((p.line + "\n").utf8))
            }
            logHandle?.write(Data((p.jsonLine + "\n").utf8))
        }
        if result.outcome.resumedFrom > 0 { print("resumed from step \(result.outcome.resumedFrom)") }
        print(String(format: "trained %d steps, final loss %.4f, %.0f text tokens/s, %d parameters, vocab %d, %d examples",
                     result.outcome.stepsDone, result.outcome.finalLoss, result.outcome.textTokensPerSecond,
                     result.parameterCount, result.vocabSize, result.trainExamples))
        if let d = result.modelDirectory { print("model: \(d)") }
    }
}
