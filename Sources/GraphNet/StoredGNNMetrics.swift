/// The `metrics.json` written beside a trained GNN in the model store, by `capillary train-gnn` and by the
/// daemon's `train` job alike, so both produce files with the same keys.
public struct StoredGNNMetrics: Codable {
    /// Metrics on the validation split at the best epoch.
    public var validation: Metrics
    /// Metrics on the test split, when the cohort has one.
    public var test: Metrics?
    /// Epoch (1-based) whose weights were kept.
    public var bestEpoch: Int
    /// Epochs run before early stopping.
    public var epochsRun: Int
    /// Wall time of training, seconds.
    public var trainSeconds: Double
    /// Cohort folder the model was trained on.
    public var cohort: String
    /// Number of trainable parameters.
    public var parameterCount: Int

    /// A record of one training run.
    public init(validation: Metrics, test: Metrics?, bestEpoch: Int, epochsRun: Int, trainSeconds: Double,
                cohort: String, parameterCount: Int) {
        self.validation = validation
        self.test = test
        self.bestEpoch = bestEpoch
        self.epochsRun = epochsRun
        self.trainSeconds = trainSeconds
        self.cohort = cohort
        self.parameterCount = parameterCount
    }

    enum CodingKeys: String, CodingKey {
        case validation, test, cohort, bestEpoch = "best_epoch", epochsRun = "epochs_run", trainSeconds = "train_seconds"
        case parameterCount = "parameter_count"
    }
}
