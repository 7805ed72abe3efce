import Common
import Foundation
import Tensors

/// What one epoch did (a progress line / a JSON line).
public struct EpochReport: Codable, Sendable {
    /// 1-based epoch.
    public var epoch: Int
    /// Maximum number of epochs.
    public var epochs: Int
    /// Mean training loss over the epoch's batches.
    public var trainLoss: Double
    /// Validation metrics after the epoch.
    public var validation: Metrics
    /// Learning rate used in this epoch.
    public var learningRate: Double
    /// Wall time of the epoch, s.
    public var seconds: Double
    /// Estimated time left if every remaining epoch runs, s.
    public var etaSeconds: Double
    /// Whether this epoch is the best so far (its weights are kept).
    public var isBest: Bool

    enum CodingKeys: String, CodingKey {
        case epoch, epochs, trainLoss = "train_loss", validation, learningRate = "learning_rate", seconds
        case etaSeconds = "eta_seconds", isBest = "is_best"
    }
}

/// Result of `ClassifierTrainer.train`.
public struct TrainingSummary: Codable, Sendable {
    /// Epoch whose weights were kept (1-based).
    public var bestEpoch: Int
    /// Epochs run (early stopping may end before the maximum).
    public var epochsRun: Int
    /// Validation metrics of the kept weights.
    public var validation: Metrics
    /// Every epoch.
    public var history: [EpochReport]
    /// Total wall time, s.
    public var seconds: Double

    enum CodingKeys: String, CodingKey {
        case bestEpoch = "best_epoch", epochsRun = "epochs_run", validation, history, seconds
    }
}

/// Mini-batch training of any classifier built from Tensors modules (the GNN and both baselines):
/// class-weighted cross-entropy with optional label smoothing, AdamW, an epoch-wise learning-rate schedule,
/// gradient clipping, early stopping on validation balanced accuracy (ties: lower validation loss) with the
/// best weights restored. Deterministic for a seed: the shuffles come from `SeededGenerator`, dropout seeds
/// from the step number, and the kernels are deterministic.
public enum ClassifierTrainer {
    /// Trains `module`.
    ///
    /// - Parameters:
    ///   - trainLabels / valLabels: class index per training / validation sample.
    ///   - logits: logits [indices.count, C] of the given samples of a split, in that order; `mode` says
    ///     whether dropout is on. Called under the caller's thread grad mode (training: enabled).
    ///   - progress: called after every epoch.
    ///   - parallel: data-parallel training across processes (each runs this with the same arguments, takes
    ///     its shard of every batch, and the gradients are summed before clipping); nil = this process alone.
    /// - Throws: `GraphNetError.invalidOption` for bad options, `.badCohort` for an empty split; whatever
    ///   `parallel`'s transport throws.
    public static func train(module: Module, classNames: [String], trainLabels: [Int], valLabels: [Int],
                             options: TrainingOptions,
                             logits: (_ split: DatasetSplitKind, _ indices: [Int], _ mode: ForwardMode) throws -> Tensor,
                             progress: (EpochReport) -> Void = { _ in },
                             parallel: DataParallelism? = nil) throws -> TrainingSummary {
        try options.validate()
        guard !trainLabels.isEmpty else { throw GraphNetError.badCohort(path: "<training split>", reason: "no training samples") }
        guard !valLabels.isEmpty else { throw GraphNetError.badCohort(path: "<validation split>", reason: "no validation samples") }
        let c = classNames.count
        let params = module.parameters()
        let opt = AdamW(parameters: params, learningRate: options.learningRate, weightDecay: options.weightDecay)
        var counts = [Int](repeating: 0, count: c)
        for y in trainLabels { counts[y] += 1 }
        let classWeight: [Float] = (0..<c).map { k in
            options.classWeighted && counts[k] > 0 ? Float(trainLabels.count) / Float(c * counts[k]) : 1
        }
        var rng = SeededGenerator(seed: options.seed, stream: 0x5417)
        var order = Array(trainLabels.indices)
        var best: (bal: Double, loss: Double, epoch: Int, state: [[Float]], metrics: Metrics)? = nil
        var history: [EpochReport] = []
        let start = Date()
        var step: UInt64 = 0
        try parallel?.copyFromRoot(module.stateDict().map(\.tensor))
        for epoch in 0..<options.epochs {
            let t0 = Date()
            opt.learningRate = options.schedule.rate(base: options.learningRate, epoch: epoch, epochs: options.epochs)
            order.shuffle(using: &rng)
            var lossSum = 0.0, batches = 0
            var i = 0
            while i < order.count {
                let idx = Array(order[i..<min(i + options.batchSize, order.count)])
                i += options.batchSize
                // A trailing batch of one would make the loss noisy for nothing; fold it into the next epoch.
                if idx.count == 1 && order.count > 1 { continue }
                step += 1
                // Data-parallel: this process's block of the batch, its loss weighted by its share of the batch's
                // total sample weight, so the summed gradients equal those of the whole batch in one process.
                let mine = parallel?.shard(idx) ?? idx
                opt.zeroGrad()
                var lossValue: Float = 0
                if !mine.isEmpty {
                    let out = try logits(.train, mine, .training(dropoutSeed: options.seed &* 1_000_003 &+ step))
                    var targets: [Float] = [], weights: [Float] = []
                    for k in mine {
                        targets += options.labelSmoothing.target(trainLabels[k], classes: c)
                        weights.append(classWeight[trainLabels[k]])
                    }
                    var loss = Tensor.crossEntropy(logits: out, targetProbabilities: targets, sampleWeights: weights)
                    if parallel != nil {
                        let total = idx.reduce(0.0) { $0 + Double(classWeight[trainLabels[$1]]) }
                        loss = loss * Float(weights.reduce(0.0) { $0 + Double($1) } / total)
                    }
                    loss.backward()
                    lossValue = loss.item
                }
                if let parallel { lossValue = try parallel.sumAcrossProcesses(params, [lossValue])[0] }
                if options.gradientClip > 0 { _ = clipGradNorm(params, maxNorm: options.gradientClip) }
                opt.step()
                lossSum += Double(lossValue); batches += 1
            }
            let (metrics, valLoss) = try evaluate(classNames: classNames, labels: valLabels, parallel: parallel) { try logits(.val, $0, .inference) }
            let bal = metrics.balancedAccuracy
            let isBest = best == nil || bal > best!.bal + 1e-12 || (abs(bal - best!.bal) <= 1e-12 && valLoss < best!.loss)
            if isBest { best = (bal, valLoss, epoch + 1, module.stateDict().map(\.tensor.array), metrics) }
            let secs = Date().timeIntervalSince(t0)
            let elapsed = Date().timeIntervalSince(start)
            let report = EpochReport(epoch: epoch + 1, epochs: options.epochs, trainLoss: lossSum / Double(max(batches, 1)),
                                     validation: metrics, learningRate: Double(opt.learningRate), seconds: secs,
                                     etaSeconds: elapsed / Double(epoch + 1) * Double(options.epochs - epoch - 1), isBest: isBest)
            history.append(report)
            progress(report)
            if epoch + 1 - best!.epoch >= options.patience { break }
        }
        // Restore the best epoch's parameters and buffers.
        for (t, values) in zip(module.stateDict().map(\.tensor), best!.state) {
            t.copyValues(from: Tensor(values, shape: t.shape))
        }
        return TrainingSummary(bestEpoch: best!.epoch, epochsRun: history.count, validation: best!.metrics,
                               history: history, seconds: Date().timeIntervalSince(start))
    }

    /// Metrics and mean unweighted cross-entropy of a classifier over `labels.count` samples, predicted in
    /// chunks of 64 without recording gradients. With `parallel`, each process predicts its block of the
    /// samples and the probabilities are summed across processes (each row is one process's Float softmax plus
    /// zeros, so the sum is exact and every process gets the same metrics).
    /// - Throws: whatever `logits` or `parallel`'s transport throws.
    public static func evaluate(classNames: [String], labels: [Int], chunk: Int = 64, parallel: DataParallelism? = nil,
                                logits: ([Int]) throws -> Tensor) throws -> (Metrics, Double) {
        let probs: [[Double]]
        if let parallel {
            let mine = parallel.shard(Array(labels.indices)), c = classNames.count, first = mine.first ?? 0
            var flat = [Float](repeating: 0, count: labels.count * c)
            for (r, row) in try probabilities(count: mine.count, chunk: chunk, logits: { try logits($0.map { mine[$0] }) }).enumerated() {
                for k in 0..<c { flat[(first + r) * c + k] = Float(row[k]) }
            }
            flat = try parallel.sumAcrossProcesses([], flat)
            probs = labels.indices.map { i in (0..<c).map { Double(flat[i * c + $0]) } }
        } else {
            probs = try probabilities(count: labels.count, chunk: chunk, logits: logits)
        }
        var loss = 0.0
        for (p, y) in zip(probs, labels) { loss -= log(max(p[y], 1e-12)) }
        return (Metrics(labels: labels, probabilities: probs, classNames: classNames), loss / Double(max(labels.count, 1)))
    }

    /// Softmax probabilities of samples 0..<count, in chunks, without gradients.
    public static func probabilities(count: Int, chunk: Int = 64, logits: ([Int]) throws -> Tensor) throws -> [[Double]] {
        var out: [[Double]] = []
        try Tensor.withoutGrad {
            var i = 0
            while i < count {
                let idx = Array(i..<min(i + chunk, count))
                let p = try logits(idx).softmax()
                let c = p.shape[1]
                let a = p.array
                for r in 0..<idx.count { out.append((0..<c).map { Double(a[r * c + $0]) }) }
                i += chunk
            }
        }
        return out
    }
}

/// Which split a trainer asks logits for.
public enum DatasetSplitKind: Sendable {
    case train, val
}
