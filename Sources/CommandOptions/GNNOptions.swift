import ArgumentParser
import GraphNet
import Tensors

/// GraphNet architecture options, shared by `capillary train-gnn` and `capillary-mpi train-gnn` (so both
/// accept the same flags and build the same model from them).
public struct GNNModelOptions: ParsableArguments {
    @Option(help: "Hidden width.") public var hidden: Int = 64
    @Option(help: "Message-passing layers.") public var layers: Int = 2
    @Option(help: "Dropout probability (capillary-mpi: each rank draws its own masks, so with dropout > 0 the weights have the same statistics as one process, not the same numbers).")
    public var dropout: Float = 0.2
    @Option(help: "Activation: relu, leakyRelu, elu, gelu, tanh, silu (default; smooth).") public var activation: String = "silu"
    @Option(help: "Graph readout: mean-logmeanexp (default; smooth: with --activation silu or gelu the model is smooth, which integrated gradients converges on), or mean-max.")
    public var readout: String = "mean-logmeanexp"
    @Option(name: .customLong("readout-sharpness"), help: "beta of the mean-logmeanexp readout (larger = closer to max).")
    public var readoutSharpness: Float = 1
    @Flag(name: .customLong("no-global-features"), help: "Do not feed the global biomarkers to the head (graph only).")
    public var noGlobalFeatures = false

    public init() {}

    /// The architecture these options describe.
    /// - Throws: `ValidationError` naming the flag for an unknown activation or readout; `GraphNetConfig.validate`'s errors.
    public func config() throws -> GraphNetConfig {
        var c = GraphNetConfig()
        c.hidden = hidden; c.layers = layers; c.dropout = dropout; c.useGlobalFeatures = !noGlobalFeatures
        guard let a = Tensors.Activation(rawValue: activation) else { throw ValidationError("--activation must be relu, leakyRelu, elu, gelu, tanh or silu") }
        c.activation = a
        guard let r = GraphReadout(rawValue: readout) else { throw ValidationError("--readout must be mean-max or mean-logmeanexp") }
        c.readout = r; c.readoutSharpness = readoutSharpness
        try c.validate()
        return c
    }
}

/// GraphNet training options, shared by `capillary train-gnn` and `capillary-mpi train-gnn`.
public struct GNNTrainingOptions: ParsableArguments {
    @Option(help: "Maximum epochs.") public var epochs: Int = 60
    @Option(name: .customLong("batch-size"), help: "Graphs per mini-batch (capillary-mpi: the global batch, split over the ranks).")
    public var batchSize: Int = 32
    @Option(help: "AdamW learning rate.") public var lr: Float = 5e-3
    @Option(name: .customLong("weight-decay"), help: "AdamW weight decay.") public var weightDecay: Float = 5e-5
    @Option(help: "LR schedule: exponential:GAMMA or cosine:MINFRACTION.") public var schedule: String = "exponential:0.95"
    @Option(name: .customLong("label-smoothing"), help: "none, uniform:EPS or gaussian:SIGMA.") public var labelSmoothing: String = "gaussian:0.4"
    @Flag(name: .customLong("no-class-weights"), help: "Unweighted cross-entropy.") public var noClassWeights = false
    @Option(help: "Early-stopping patience, epochs.") public var patience: Int = 15
    @Option(help: "Seed (weights, shuffles, dropout, folds).") public var seed: UInt64 = 1
    @Option(help: "Labels: stage (healthy/npdr/pdr) or grade (0-4).") public var labels: String = "stage"

    public init() {}

    /// The label scheme of `--labels` (stage when unknown: `options()` rejects that first).
    public var scheme: LabelScheme { LabelScheme(rawValue: labels) ?? .stage }

    /// The training options these flags describe.
    /// - Throws: `ValidationError` for an unknown `--labels`; the schedule, smoothing and `validate` errors naming the field.
    public func options() throws -> GraphNet.TrainingOptions {
        guard LabelScheme(rawValue: labels) != nil else { throw ValidationError("--labels must be stage or grade") }
        var o = GraphNet.TrainingOptions()
        o.epochs = epochs; o.batchSize = batchSize; o.learningRate = lr; o.weightDecay = weightDecay
        o.schedule = try LearningRateSchedule(parsing: schedule)
        o.labelSmoothing = try LabelSmoothing(parsing: labelSmoothing)
        o.classWeighted = !noClassWeights; o.patience = patience; o.seed = seed
        try o.validate()
        return o
    }
}

/// What train-gnn does after training, in every driver: test the model on the test split (when there is
/// one) and store it, with its validation and test metrics, as the next version of `name` in `store`.
public enum TrainedGNNStore {
    /// - Throws: evaluation errors and `ModelStore.save`'s errors naming the folder.
    public static func save(_ model: StagingModel, summary: TrainingSummary, test: [LabeledGraph], cohort: String,
                            store: String, name: String) throws -> (info: StoredModelInfo, test: Metrics?) {
        let testMetrics = test.isEmpty ? nil : try GraphNetTraining.evaluate(model, on: test)
        let record = StoredGNNMetrics(validation: summary.validation, test: testMetrics, bestEpoch: summary.bestEpoch,
                                      epochsRun: summary.epochsRun, trainSeconds: summary.seconds, cohort: cohort,
                                      parameterCount: model.network.parameterCount)
        return (try ModelStore(root: store).save(model, name: name, metrics: record), testMetrics)
    }
}
