import Foundation
import Tensors

/// A whole training job, from a LLaVA dataset to a model-store entry: tokenizer, encoding, two-stage training
/// with checkpoints in `<store>/<name>/checkpoint/`, and the final `<store>/<name>/v<N>/`. Re-running the same
/// job after a kill resumes from the checkpoint (same tokenizer, same step, same optimizer state).
public enum VLMTrainingRun {
    /// What a finished (or cancelled) job produced.
    public struct Result: Sendable {
        /// The new model folder (nil when cancelled: the checkpoint holds the progress).
        public var modelDirectory: String?
        public var outcome: TrainingOutcome
        public var parameterCount: Int
        public var vocabSize: Int
        public var trainExamples: Int
    }

    /// Runs a job.
    /// - Parameters:
    ///   - data: LLaVA JSON/JSONL file or folder (see `InstructionDataset.load`); its `split` records are used.
    ///   - config: a preset (its `vocabSize` is replaced by the tokenizer's).
    ///   - maxVocab: tokenizer size cap.
    /// - Throws: dataset, image, tokenizer, checkpoint and store errors (all naming the file).
    public static func run(data: String, split: String = "train", config: VLMConfig, options: TrainingOptions,
                           store: String, name: String = VLMStore.defaultName, maxVocab: Int = 2000,
                           cancel: CancellationFlag? = nil,
                           progress: ((TrainingProgress) -> Void)? = nil) throws -> Result {
        let dataset = try InstructionDataset.load(path: data, split: split)
        guard !dataset.records.isEmpty else {
            throw VLMError.invalidOption(name: "data", reason: "\(data) has no \(split) records")
        }
        let work = (store as NSString).appendingPathComponent("\(name)/checkpoint")
        do { try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true) }
        catch { throw VLMError.io(path: work, reason: "cannot create checkpoint folder: \(error.localizedDescription)") }
        let tokPath = work + "/tokenizer.json"
        let tokenizer: Tokenizer
        if FileManager.default.fileExists(atPath: tokPath) {
            tokenizer = try Tokenizer.load(path: tokPath)
        } else {
            let texts = dataset.records.flatMap { $0.turns.flatMap { [$0.question, $0.answer] } }
            tokenizer = Tokenizer.train(texts: texts, maxVocab: maxVocab)
            try tokenizer.save(to: tokPath)
        }
        var cfg = config
        cfg.vocabSize = tokenizer.vocabSize
        let alignment = try EncodedCorpus(dataset: dataset, tokenizer: tokenizer, config: cfg) { turn in
            turn.answer.hasPrefix("Stage:") ? String(turn.answer.prefix { $0 != "\n" }) : nil
        }
        let instruction = try EncodedCorpus(dataset: dataset, tokenizer: tokenizer, config: cfg)
        let model = try VLMModel(config: cfg, seed: options.seed)
        let ckpt = work + "/checkpoint.safetensors"
        let trainer = try VLMTrainer(model: model, alignment: alignment, instruction: instruction, options: options,
                                     checkpointPath: ckpt)
        let outcome = try trainer.run(cancel: cancel, progress: progress)
        var dir: String?
        if !outcome.cancelled {
            let metrics: [String: Any] = [
                "final_loss": Double(outcome.finalLoss), "steps": outcome.stepsDone,
                "text_tokens_per_s": outcome.textTokensPerSecond, "parameters": model.parameterCount,
                "train_records": dataset.records.count, "train_examples": instruction.examples.count,
                "data": data, "options": options.description, "seed": Int(options.seed),
            ]
            dir = try VLMStore.save(model: model, tokenizer: tokenizer, metrics: metrics, store: store, name: name)
            try? FileManager.default.removeItem(atPath: work)
        }
        return Result(modelDirectory: dir, outcome: outcome, parameterCount: model.parameterCount,
                      vocabSize: tokenizer.vocabSize, trainExamples: instruction.examples.count)
    }
}
