import ArgumentParser
import CommandOptions
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

    @OptionGroup var job: VLMTrainingArguments
    @Option(help: "Write JSON progress lines to this file.")
    var log: String?
    @Option(help: "Weight of the vision-encoder distillation loss (stage, and the graph biomarkers when the data has them, predicted from the pooled visual tokens); 0 = off.")
    var distill: Float = 0
    @Flag(help: "Stage 1 draws its examples class-balanced.")
    var balanced = false
    @Flag(help: "Stage 1 shows each image under a random rotation/mirror.")
    var augment = false

    func run() throws {
        let cfg = try job.preset()
        let options = job.trainingOptions(distillWeight: distill, balancedAlignment: balanced, augmentAlignment: augment)
        var logHandle: FileHandle?
        var announced = false
        if let log {
            guard FileManager.default.createFile(atPath: log, contents: nil),
                  let handle = FileHandle(forWritingAtPath: log) else {
                throw ValidationError("--log \(log): cannot create the file (does its folder exist and is it writable?)")
            }
            handle.seekToEndOfFile()
            logHandle = handle
        }
        let result = try VLMTrainingRun.run(data: job.data, split: job.split, config: cfg, options: options, store: job.store,
                                            name: job.name, maxVocab: job.vocab) { p in
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
