import Foundation
import Tensors

/// A whole training job, from a LLaVA dataset to a model-store entry: tokenizer, encoding, two-stage training
/// with checkpoints in `<store>/<name>/checkpoint/`, and the final `<store>/<name>/v<N>/`. Re-running the same
/// job after a kill resumes from the checkpoint (same tokenizer, same step, same optimizer state).
///
/// `run` is the single-process job; its steps are public too, so that a data-parallel driver (capillary-mpi
/// train-vlm) runs the same sequence, with one process fixing the tokenizer and owning the checkpoint.
public enum VLMTrainingRun {
    /// What a finished (or cancelled) job produced.
    public struct Result: Sendable {
        /// The new model folder (nil when cancelled: the checkpoint holds the progress).
        public var modelDirectory: String?
        /// Steps, final loss, speed, resume point.
        public var outcome: TrainingOutcome
        /// Trainable scalars of the model.
        public var parameterCount: Int
        /// Tokenizer size.
        public var vocabSize: Int
        /// (question, answer) examples of stage 2.
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
        let dataset = try loadDataset(data: data, split: split)
        let work = workFolder(store: store, name: name)
        let tokenizer = try fixTokenizer(for: dataset, work: work, maxVocab: maxVocab)
        let corpora = try encode(dataset, tokenizer: tokenizer, config: config)
        let model = try VLMModel(config: corpora.config, seed: options.seed)
        let trainer = try VLMTrainer(model: model, alignment: corpora.alignment, instruction: corpora.instruction,
                                     options: options, checkpointPath: checkpointPath(work: work))
        let outcome = try trainer.run(cancel: cancel, progress: progress)
        var dir: String?
        if !outcome.cancelled {
            dir = try storeModel(model, tokenizer: tokenizer, outcome: outcome, dataset: dataset, corpora: corpora, data: data,
                                 options: options, store: store, name: name)
        }
        return Result(modelDirectory: dir, outcome: outcome, parameterCount: model.parameterCount,
                      vocabSize: tokenizer.vocabSize, trainExamples: corpora.instruction.examples.count)
    }

    /// The `split` records of `data`.
    /// - Throws: `InstructionDataset.load`'s errors, and `VLMError.invalidOption(name: "data")` when the split is empty.
    public static func loadDataset(data: String, split: String) throws -> InstructionDataset {
        let dataset = try InstructionDataset.load(path: data, split: split)
        guard !dataset.records.isEmpty else {
            throw VLMError.invalidOption(name: "data", reason: "\(data) has no \(split) records")
        }
        return dataset
    }

    /// `<store>/<name>/checkpoint`: where a job keeps its tokenizer and checkpoint until the model is stored.
    public static func workFolder(store: String, name: String) -> String {
        (store as NSString).appendingPathComponent("\(name)/checkpoint")
    }

    /// The tokenizer file in a job's work folder.
    public static func tokenizerPath(work: String) -> String { work + "/tokenizer.json" }

    /// The checkpoint file in a job's work folder.
    public static func checkpointPath(work: String) -> String { work + "/checkpoint.safetensors" }

    /// The job's tokenizer: the one already in `work` (a resumed job keeps its token ids), else one trained on
    /// the dataset's questions and answers (at most `maxVocab` tokens) and saved there. Creates `work`.
    /// - Throws: `VLMError.io` naming the folder or file.
    public static func fixTokenizer(for dataset: InstructionDataset, work: String, maxVocab: Int) throws -> Tokenizer {
        do { try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true) }
        catch { throw VLMError.io(path: work, reason: "cannot create checkpoint folder: \(error.localizedDescription)") }
        let path = tokenizerPath(work: work)
        if FileManager.default.fileExists(atPath: path) { return try Tokenizer.load(path: path) }
        let texts = dataset.records.flatMap { $0.turns.flatMap { [$0.question, $0.answer] } }
        let tokenizer = Tokenizer.train(texts: texts, maxVocab: maxVocab)
        try tokenizer.save(to: path)
        return tokenizer
    }

    /// The encoded data of both stages and the config they are encoded for.
    public struct Corpora {
        /// The preset with the tokenizer's vocabulary size.
        public var config: VLMConfig
        /// Stage 1: each record's "Stage:" line.
        public var alignment: EncodedCorpus
        /// Stage 2: every (question, answer) turn.
        public var instruction: EncodedCorpus
    }

    /// Encodes `dataset` for both stages with `tokenizer` (`config.vocabSize` becomes the tokenizer's).
    /// - Throws: image and encoding errors naming the record's file.
    public static func encode(_ dataset: InstructionDataset, tokenizer: Tokenizer, config: VLMConfig) throws -> Corpora {
        var cfg = config
        cfg.vocabSize = tokenizer.vocabSize
        let alignment = try EncodedCorpus(dataset: dataset, tokenizer: tokenizer, config: cfg) { turn in
            turn.answer.hasPrefix("Stage:") ? String(turn.answer.prefix { $0 != "\n" }) : nil
        }
        let instruction = try EncodedCorpus(dataset: dataset, tokenizer: tokenizer, config: cfg)
        return Corpora(config: cfg, alignment: alignment, instruction: instruction)
    }

    /// Stores the trained model as the next `v<N>` of `name` with the job's metrics (plus `extraMetrics`), then
    /// removes the job's work folder. Returns the new model folder.
    /// - Throws: `VLMStore.save`'s errors naming the folder.
    public static func storeModel(_ model: VLMModel, tokenizer: Tokenizer, outcome: TrainingOutcome, dataset: InstructionDataset,
                                  corpora: Corpora, data: String, options: TrainingOptions, extraMetrics: [String: Any] = [:],
                                  store: String, name: String) throws -> String {
        var metrics: [String: Any] = [
            "final_loss": Double(outcome.finalLoss), "steps": outcome.stepsDone,
            "text_tokens_per_s": outcome.textTokensPerSecond, "parameters": model.parameterCount,
            "train_records": dataset.records.count, "train_examples": corpora.instruction.examples.count,
            "data": data, "options": options.description, "seed": Int(options.seed),
        ]
        metrics.merge(extraMetrics) { _, extra in extra }
        let dir = try VLMStore.save(model: model, tokenizer: tokenizer, metrics: metrics, store: store, name: name)
        try? FileManager.default.removeItem(atPath: workFolder(store: store, name: name))
        return dir
    }
}
