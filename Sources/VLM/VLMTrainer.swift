import Common
import Foundation
import Tensors

/// Hyper-parameters of a two-stage (LLaVA-style) training run.
public struct TrainingOptions: Sendable {
    /// Stage 1 (alignment) steps: the diagnosis answers cut to their `Stage:` line.
    public var alignmentSteps: Int
    /// Stage 2 (instruction tuning) steps on every turn, loss on the answers only.
    public var instructionSteps: Int
    /// Examples per step.
    public var batchSize: Int
    /// Peak learning rate (after warmup) of each stage.
    public var learningRate: Float
    /// Learning rate at the end of each stage's cosine.
    public var minLearningRate: Float
    /// Linear warmup steps at the start of each stage.
    public var warmupSteps: Int
    /// AdamW weight decay (matrices only).
    public var weightDecay: Float
    /// Global gradient-norm clip.
    public var clipNorm: Float
    /// Seed of the initial weights and the data order.
    public var seed: UInt64
    /// Steps between checkpoints (0 = only at the end of a stage).
    public var checkpointEvery: Int
    /// Weight of the vision-encoder distillation loss (`VisualDistillation`: stage and, with graph knowledge,
    /// biomarkers predicted from the pooled visual tokens), added to the language-model loss in both stages;
    /// 0 turns it off.
    public var distillWeight: Float
    /// Stage 1 draws its examples class-balanced (each stage equally often) instead of in epoch order.
    public var balancedAlignment: Bool
    /// Stage 1 shows each image under a seeded random rotation/mirror (`PatchAugmentation`).
    public var augmentAlignment: Bool

    /// Options; the defaults suit the `small` config.
    public init(alignmentSteps: Int = 150, instructionSteps: Int = 600, batchSize: Int = 16,
                learningRate: Float = 2e-3, minLearningRate: Float = 1e-4, warmupSteps: Int = 30,
                weightDecay: Float = 0.01, clipNorm: Float = 1, seed: UInt64 = 1, checkpointEvery: Int = 50,
                distillWeight: Float = 0, balancedAlignment: Bool = false, augmentAlignment: Bool = false) {
        self.alignmentSteps = alignmentSteps; self.instructionSteps = instructionSteps; self.batchSize = batchSize
        self.learningRate = learningRate; self.minLearningRate = minLearningRate; self.warmupSteps = warmupSteps
        self.weightDecay = weightDecay; self.clipNorm = clipNorm; self.seed = seed
        self.checkpointEvery = checkpointEvery
        self.distillWeight = distillWeight; self.balancedAlignment = balancedAlignment
        self.augmentAlignment = augmentAlignment
    }

    /// Steps of both stages.
    public var totalSteps: Int { alignmentSteps + instructionSteps }
}

/// One training step's report (the terminal line and the JSON line are made from it).
public struct TrainingProgress: Sendable, Codable {
    /// 1 (alignment) or 2 (instruction tuning).
    public var stage: Int
    /// Steps done, over both stages.
    public var step: Int
    /// Steps of the whole run.
    public var totalSteps: Int
    /// Mean answer-token cross-entropy of this step, nats.
    public var loss: Float
    /// Learning rate used by this step.
    public var learningRate: Float
    /// Global gradient norm before clipping.
    public var gradNorm: Float
    /// Text tokens (prompt + answer, no padding) per second over the run so far.
    public var textTokensPerSecond: Double
    /// Estimated seconds to the end.
    public var etaSeconds: Double

    enum CodingKeys: String, CodingKey {
        case stage, step, loss, gradNorm = "grad_norm", totalSteps = "total_steps", learningRate = "lr"
        case textTokensPerSecond = "text_tokens_per_s", etaSeconds = "eta_s"
    }

    /// One human-readable line.
    public var line: String {
        String(format: "stage %d step %d/%d loss %.4f lr %.2e |g| %.2f %.0f tok/s ETA %.0fs", stage, step, totalSteps,
               loss, learningRate, gradNorm, textTokensPerSecond, etaSeconds)
    }

    /// One JSON line (keys sorted).
    public var jsonLine: String {
        let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]
        return String(decoding: (try? enc.encode(self)) ?? Data(), as: UTF8.self)
    }
}

/// How a run ended.
public struct TrainingOutcome: Sendable {
    /// Steps completed (equals `totalSteps` when not cancelled).
    public var stepsDone: Int
    /// True when the cancel hook stopped the run (a checkpoint was written first).
    public var cancelled: Bool
    /// Mean loss of the last 10 steps.
    public var finalLoss: Float
    /// Text tokens per second over this invocation.
    public var textTokensPerSecond: Double
    /// Step the run resumed from (0 when fresh).
    public var resumedFrom: Int
}

/// Two-stage training of a `VLMModel` with AdamW, per-stage warmup + cosine, gradient clipping, seeded data
/// order, and a checkpoint (weights + optimizer moments + step) that a killed run resumes from exactly: the
/// batch of step s depends only on (seed, s), so a resumed run sees the same data as an uninterrupted one.
public final class VLMTrainer {
    /// The model being trained (its weights change every step).
    public let model: VLMModel
    /// The run's options.
    public let options: TrainingOptions
    let alignment: EncodedCorpus, instruction: EncodedCorpus
    let optimizer: ResumableAdamW
    /// Stage-1 image symmetries (nil unless `augmentAlignment`).
    let augmentation: PatchAugmentation?
    /// The encoder's auxiliary probe (nil when `distillWeight` is 0 or no image has a known stage).
    public let distillation: VisualDistillation?
    /// Checkpoint file (nil: no checkpoints).
    public let checkpointPath: String?
    /// Steps completed so far (restored from a checkpoint).
    public private(set) var step = 0
    /// Forward and backward of a batch in two blocks on two threads (`BatchSplitStep`), used when neither
    /// `parallel` nor `distillation` is set.
    let batchSplit: BatchSplitStep
    /// Data-parallel training across processes: each takes its shard of every batch, the gradients are summed
    /// before clipping, and all start from process 0's weights. nil (default) = this process alone.
    public var parallel: DataParallelism?

    /// A trainer. `alignment` may have no examples (stage 1 then uses `instruction`).
    /// - Throws: `VLMError.invalidOption` for empty data or bad options; checkpoint read errors.
    public init(model: VLMModel, alignment: EncodedCorpus, instruction: EncodedCorpus, options: TrainingOptions,
                checkpointPath: String? = nil) throws {
        guard !instruction.examples.isEmpty else {
            throw VLMError.invalidOption(name: "data", reason: "the dataset has no question/answer pairs")
        }
        guard options.batchSize > 0 else { throw VLMError.invalidOption(name: "batch", reason: "must be positive") }
        guard options.totalSteps > 0 else { throw VLMError.invalidOption(name: "steps", reason: "need at least one step") }
        self.model = model; self.options = options
        self.alignment = alignment.examples.isEmpty ? instruction : alignment
        self.instruction = instruction
        augmentation = options.augmentAlignment ? PatchAugmentation(config: model.config) : nil
        distillation = options.distillWeight > 0 && instruction.stages.contains { $0 >= 0 }
            ? VisualDistillation(corpus: instruction, dModel: model.config.dModel, seed: options.seed) : nil
        optimizer = ResumableAdamW(parameters: model.namedParameters() + (distillation?.namedParameters(prefix: "distill.") ?? []),
                                   learningRate: options.learningRate, weightDecay: options.weightDecay)
        batchSplit = try BatchSplitStep(model: model)
        self.checkpointPath = checkpointPath
        if let p = checkpointPath, FileManager.default.fileExists(atPath: p) { try restore(from: p) }
    }

    /// Stage (1 or 2) and step within it of global step `s`.
    func stageOf(_ s: Int) -> (stage: Int, local: Int, length: Int) {
        s < options.alignmentSteps ? (1, s, options.alignmentSteps) : (2, s - options.alignmentSteps, options.instructionSteps)
    }

    /// Learning rate at global step `s`: linear warmup then cosine to the minimum, restarted per stage.
    public func learningRate(at s: Int) -> Float {
        let (_, local, length) = stageOf(s)
        let warm = min(options.warmupSteps, max(1, length / 4))
        if local < warm { return options.learningRate * Float(local + 1) / Float(warm) }
        let progress = Float(local - warm) / Float(max(1, length - warm))
        return options.minLearningRate + 0.5 * (options.learningRate - options.minLearningRate) * (1 + cosf(.pi * progress))
    }

    /// Example indices of global step `s`: consecutive picks from per-epoch seeded permutations of the stage's
    /// examples.
    func batchIndices(at s: Int) -> [Int] {
        let (stage, local, _) = stageOf(s)
        if stage == 1 && options.balancedAlignment, let picks = balancedIndices(local: local) { return picks }
        let n = (stage == 1 ? alignment : instruction).examples.count
        var out: [Int] = []
        var cachedEpoch = -1
        var perm: [Int] = []
        for j in 0..<options.batchSize {
            let pos = local * options.batchSize + j
            let epoch = pos / n
            if epoch != cachedEpoch {
                var g = SeededGenerator(seed: options.seed, stream: UInt64(stage * 1_000_000 + epoch))
                perm = Array(0..<n)
                for i in stride(from: n - 1, to: 0, by: -1) { perm.swapAt(i, g.int(below: i + 1)) }
                cachedEpoch = epoch
            }
            out.append(perm[pos % n])
        }
        return out
    }

    /// Class-balanced stage-1 batch of local step `local`: example j has stage (local * batch + j) mod the
    /// number of stages present, drawn uniformly within that stage (seeded by the step). Nil when no
    /// alignment example has a known stage.
    func balancedIndices(local: Int) -> [Int]? {
        var byStage: [[Int]] = [[], [], []]
        for (i, ex) in alignment.examples.enumerated() {
            let st = alignment.stages[ex.imageIndex]
            if st >= 0 { byStage[st].append(i) }
        }
        byStage = byStage.filter { !$0.isEmpty }
        guard !byStage.isEmpty else { return nil }
        var g = SeededGenerator(seed: options.seed, stream: UInt64(3_000_000 + local))
        return (0..<options.batchSize).map { j in
            let pool = byStage[(local * options.batchSize + j) % byStage.count]
            return pool[g.int(below: pool.count)]
        }
    }

    /// Trains until both stages are done or `cancel` is set (checked before every step). `progress` is
    /// called after every step. Writes a checkpoint every `checkpointEvery` steps, at each stage end and on
    /// cancel.
    /// - Throws: checkpoint write errors; whatever `parallel`'s transport throws.
    public func run(cancel: CancellationFlag? = nil, progress: ((TrainingProgress) -> Void)? = nil) throws -> TrainingOutcome {
        let start = DispatchTime.now().uptimeNanoseconds
        let resumedFrom = step
        var tokens = 0
        var recent: [Float] = []
        var cancelled = false
        model.setTraining(true)
        try parallel?.copyFromRoot(optimizer.parameters.map(\.tensor))
        while step < options.totalSteps {
            if cancel?.isCancelled == true { cancelled = true; break }
            let (stage, _, _) = stageOf(step)
            let corpus = stage == 1 ? alignment : instruction
            let batch = batchIndices(at: step).map { corpus.examples[$0] }
            let lr = learningRate(at: step)
            optimizer.learningRate = lr
            model.zeroGrad()
            distillation?.zeroGrad()
            var (inputs, images) = (batch, corpus.images)
            if stage == 1, let augmentation {
                // Each example gets its own view; the transform depends only on (seed, step, slot).
                var g = SeededGenerator(seed: options.seed, stream: UInt64(5_000_000 + step))
                images = batch.map { augmentation.apply(g.int(below: 8), to: corpus.images[$0.imageIndex]) }
                for j in inputs.indices { inputs[j].imageIndex = j }
            }
            var value: Float
            if let parallel {
                // This process's block of the batch, its mean loss weighted by its share of the batch's answer
                // tokens, so the summed gradients equal those of the whole batch's mean in one process. The
                // distillation term is weighted by the share of examples: exact for its biomarker mean, and an
                // approximation for its class-weighted cross-entropy (whose normaliser is the whole batch's
                // weight sum).
                let slots = parallel.shard(Array(batch.indices))
                let total = batch.reduce(0) { $0 + $1.answerTokenCount }
                value = 0
                if !slots.isEmpty, total > 0 {
                    let (part, counted, visual) = model.lossAndVisual(batch: slots.map { inputs[$0] }, images: images)
                    var loss = part * (Float(counted) / Float(total))
                    value = loss.item
                    if let distillation {
                        let share = Float(slots.count) / Float(batch.count)
                        loss = loss + (options.distillWeight * share)
                            * distillation.loss(visual: visual, imageIndices: slots.map { batch[$0].imageIndex })
                    }
                    loss.backward()
                }
                value = try parallel.sumAcrossProcesses(optimizer.parameters.map(\.tensor), [value])[0]
            } else if distillation == nil {
                value = batchSplit.lossAndBackward(batch: inputs, images: images)
            } else {
                let (lmLoss, _, visual) = model.lossAndVisual(batch: inputs, images: images)
                value = lmLoss.item
                var loss = lmLoss
                if let distillation {
                    loss = loss + options.distillWeight * distillation.loss(visual: visual, imageIndices: batch.map(\.imageIndex))
                }
                loss.backward()
            }
            let norm = clipGradNorm(optimizer.parameters.map(\.tensor), maxNorm: options.clipNorm)
            optimizer.step()
            step += 1
            tokens += batch.reduce(0) { $0 + $1.ids.count }
            recent.append(value); if recent.count > 10 { recent.removeFirst() }
            let secs = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            let rate = Double(tokens) / max(secs, 1e-9)
            let stepsPerSec = Double(step - resumedFrom) / max(secs, 1e-9)
            progress?(TrainingProgress(stage: stage, step: step, totalSteps: options.totalSteps, loss: value,
                                       learningRate: lr, gradNorm: norm, textTokensPerSecond: rate,
                                       etaSeconds: Double(options.totalSteps - step) / max(stepsPerSec, 1e-9)))
            if let p = checkpointPath,
               (options.checkpointEvery > 0 && step % options.checkpointEvery == 0) || step == options.alignmentSteps
                || step == options.totalSteps {
                try saveCheckpoint(to: p)
            }
        }
        if cancelled, let p = checkpointPath { try saveCheckpoint(to: p) }
        let secs = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return TrainingOutcome(stepsDone: step, cancelled: cancelled,
                               finalLoss: recent.isEmpty ? .nan : recent.reduce(0, +) / Float(recent.count),
                               textTokensPerSecond: Double(tokens) / max(secs, 1e-9), resumedFrom: resumedFrom)
    }

    /// Writes weights, optimizer moments and the step to `path` (via a temporary file and a rename, then an
    /// fsync of the folder, so a crash right after the save cannot lose the rename and resume from an older
    /// checkpoint).
    /// - Throws: `SafeTensorsError` / `VLMError.io` naming the file.
    public func saveCheckpoint(to path: String) throws {
        let tmp = path + ".tmp"
        try SafeTensors.write(optimizer.parameters + optimizer.stateTensors(),
                              metadata: ["step": String(step), "adam_step": String(optimizer.stepCount),
                                         "seed": String(options.seed), "config": options.description],
                              to: tmp)
        do { try DurableFile.rename(tmp, to: path) } catch let e as DurableWriteError {
            throw VLMError.io(path: path, reason: "cannot rename checkpoint: \(e.reason)")
        }
    }

    /// Restores weights, moments and step from a checkpoint written by `saveCheckpoint`.
    /// - Throws: `VLMError.io` when the checkpoint belongs to a different model, or `SafeTensorsError`.
    public func restore(from path: String) throws {
        let (tensors, meta) = try SafeTensors.read(path: path)
        let byName = Dictionary(tensors.map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a })
        guard meta["seed"] == String(options.seed), meta["config"] == options.description else {
            throw VLMError.io(path: path, reason: "checkpoint was written by a run with other options (seed/steps/batch); delete it or use the same options")
        }
        for (name, t) in optimizer.parameters + optimizer.stateTensors() {
            guard let src = byName[name], src.shape == t.shape else {
                throw VLMError.io(path: path, reason: "checkpoint lacks \(name) with shape \(t.shape); delete it to start fresh")
            }
            t.copyValues(from: src)
        }
        step = Int(meta["step"] ?? "0") ?? 0
        optimizer.stepCount = Int(meta["adam_step"] ?? "0") ?? 0
    }
}

extension TrainingOptions: CustomStringConvertible {
    /// The options that fix the data order and schedule (a checkpoint only resumes under the same ones).
    public var description: String {
        "align=\(alignmentSteps) instruct=\(instructionSteps) batch=\(batchSize) lr=\(learningRate) min=\(minLearningRate) warmup=\(warmupSteps)"
            + (distillWeight > 0 ? " distill=\(distillWeight)" : "") + (balancedAlignment ? " balanced" : "")
            + (augmentAlignment ? " augment" : "")
    }
}

extension EncodedExample {
    /// Answer tokens the loss averages over (targets i + 1 with the loss mask set), as `VLMModel.loss` counts them.
    var answerTokenCount: Int {
        ids.count < 2 ? 0 : (1..<ids.count).reduce(0) { $0 + (lossMask[$1] ? 1 : 0) }
    }
}
