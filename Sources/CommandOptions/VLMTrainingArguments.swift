import ArgumentParser
import VLM

/// The options of a VLM training job shared by `capillary train-vlm` and `capillary-mpi train-vlm`: data,
/// preset, store entry, the two stages' steps and the optimiser's schedule.
public struct VLMTrainingArguments: ParsableArguments {
    @Option(help: "Instruction dataset (file or folder).")
    public var data: String
    @Option(help: "Split to train on.")
    public var split: String = "train"
    @Option(help: "Config: tiny, small, base or peer.")
    public var config: String = "small"
    @Option(help: "Model store folder.")
    public var store: String
    @Option(help: "Model name in the store.")
    public var name: String = "vlm"
    @Option(name: .customLong("align-steps"), help: "Stage 1 steps.")
    public var alignSteps: Int = 150
    @Option(help: "Stage 2 steps.")
    public var steps: Int = 600
    @Option(help: "Batch size (capillary-mpi: the global batch, split over the ranks).")
    public var batch: Int = 16
    @Option(help: "Peak learning rate.")
    public var lr: Float = 2e-3
    @Option(help: "Warmup steps per stage.")
    public var warmup: Int = 30
    @Option(help: "Maximum vocabulary size.")
    public var vocab: Int = 2000
    @Option(help: "Seed (weights and data order).")
    public var seed: UInt64 = 1
    @Option(name: .customLong("checkpoint-every"), help: "Steps between checkpoints (capillary-mpi: rank 0 writes them).")
    public var checkpointEvery: Int = 50

    public init() {}

    /// The preset named by `--config`.
    /// - Throws: `VLMConfig.preset`'s error naming the unknown preset.
    public func preset() throws -> VLMConfig { try VLMConfig.preset(config) }

    /// The training options (the learning rate decays to a twentieth of `--lr`), with the stage-1 extras
    /// that only the single-process command offers.
    public func trainingOptions(distillWeight: Float = 0, balancedAlignment: Bool = false,
                                augmentAlignment: Bool = false) -> VLM.TrainingOptions {
        VLM.TrainingOptions(alignmentSteps: alignSteps, instructionSteps: steps, batchSize: batch,
                            learningRate: lr, minLearningRate: lr / 20, warmupSteps: warmup, seed: seed,
                            checkpointEvery: checkpointEvery, distillWeight: distillWeight,
                            balancedAlignment: balancedAlignment, augmentAlignment: augmentAlignment)
    }
}
