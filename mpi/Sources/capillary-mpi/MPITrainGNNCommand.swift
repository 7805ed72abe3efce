import ArgumentParser
import Foundation
import GraphNet
import MessagePassing
import Retina
import Tensors

/// `capillary-mpi train-gnn`: `capillary train-gnn` (manifest split, early stopping, model store entry) as a
/// data-parallel MPI job. Every rank loads the whole cohort (rank 0 first, filling the graph cache that the
/// others then read), trains the same model on its block of every global batch, and the gradients are summed
/// with one MPI_Allreduce per step; rank 0 evaluates on test and writes the model store entry.
struct MPITrainGNNCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-gnn",
        abstract: "Data-parallel GNN training (same options and result as capillary train-gnn, up to float rounding).")

    @Option(help: "Cohort folder with manifest.jsonl (capillary generate).") var cohort: String
    @Option(help: "Model store folder (rank 0 writes the entry).") var store: String
    @Option(help: "Model name in the store.") var name: String = "graphnet"
    @Option(help: "Hidden width.") var hidden: Int = 64
    @Option(help: "Message-passing layers.") var layers: Int = 2
    @Option(help: "Dropout probability (with dropout > 0 each rank draws its own masks: same statistics, not the same numbers as one process).")
    var dropout: Float = 0.2
    @Option(help: "Activation: relu, leakyRelu, elu, gelu, tanh, silu (default, as capillary train-gnn).") var activation: String = "silu"
    @Option(help: "Graph readout: mean-logmeanexp (default, as capillary train-gnn) or mean-max.") var readout: String = "mean-logmeanexp"
    @Flag(name: .customLong("no-global-features"), help: "Graph only.") var noGlobalFeatures = false
    @Option(help: "Maximum epochs.") var epochs: Int = 60
    @Option(name: .customLong("batch-size"), help: "Graphs per global mini-batch (split over the ranks).") var batchSize: Int = 32
    @Option(help: "AdamW learning rate.") var lr: Float = 5e-3
    @Option(name: .customLong("weight-decay"), help: "AdamW weight decay.") var weightDecay: Float = 5e-5
    @Option(help: "LR schedule: exponential:GAMMA or cosine:MINFRACTION.") var schedule: String = "exponential:0.95"
    @Option(name: .customLong("label-smoothing"), help: "none, uniform:EPS or gaussian:SIGMA.") var labelSmoothing: String = "gaussian:0.4"
    @Flag(name: .customLong("no-class-weights"), help: "Unweighted cross-entropy.") var noClassWeights = false
    @Option(help: "Early-stopping patience, epochs.") var patience: Int = 15
    @Option(help: "Seed (weights, shuffles, dropout).") var seed: UInt64 = 1
    @Option(help: "Labels: stage or grade.") var labels: String = "stage"

    func run() throws {
        guard let scheme = LabelScheme(rawValue: labels) else { throw ValidationError("--labels must be stage or grade") }
        var arch = GraphNetConfig()
        arch.hidden = hidden; arch.layers = layers; arch.dropout = dropout; arch.useGlobalFeatures = !noGlobalFeatures
        guard let a = Tensors.Activation(rawValue: activation) else { throw ValidationError("--activation must be relu, leakyRelu, elu, gelu, tanh or silu") }
        arch.activation = a
        guard let r = GraphReadout(rawValue: readout) else { throw ValidationError("--readout must be mean-max or mean-logmeanexp") }
        arch.readout = r
        try arch.validate()
        var o = TrainingOptions()
        o.epochs = epochs; o.batchSize = batchSize; o.learningRate = lr; o.weightDecay = weightDecay
        o.schedule = try LearningRateSchedule(parsing: schedule)
        o.labelSmoothing = try LabelSmoothing(parsing: labelSmoothing)
        o.classWeighted = !noClassWeights; o.patience = patience; o.seed = seed
        try o.validate()
        let options = o
        try MPIJob.run { comm in
            let manifest = try CohortGraphLoader.manifest(at: cohort)
            // Rank 0 builds missing graphs into the cache first; the others then read them instead of all
            // ranks building (and writing) the same cache files at once.
            var graphs: [LabeledGraph] = []
            if comm.isRoot { graphs = try CohortGraphLoader().load(manifest, scheme: scheme) }
            try comm.barrier()
            if !comm.isRoot { graphs = try CohortGraphLoader().load(manifest, scheme: scheme) }
            let (train, val, test) = CohortSplits.manifestSplit(graphs)
            guard !train.isEmpty, !val.isEmpty else { throw GraphNetError.badCohort(path: cohort, reason: "the manifest has no train/val split") }
            MPIJob.note(comm, "train \(train.count), val \(val.count), test \(test.count) graphs; \(comm.size) ranks, global batch \(options.batchSize)")
            let exchange = GradientExchange(comm: comm)
            let cpu0 = MPIJob.cpuSeconds()
            let t0 = Date()
            let (m, summary) = try GraphNetTraining.train(
                train: train, val: val, architecture: arch, options: options, scheme: scheme,
                progress: { r in
                    MPIJob.note(comm, String(format: "epoch %d/%d loss %.5f val bal.acc %.3f %.2f s%@", r.epoch, r.epochs, r.trainLoss,
                                             r.validation.balancedAccuracy, r.seconds, r.isBest ? " *" : ""))
                }, parallel: exchange.parallelism)
            let seconds = Date().timeIntervalSince(t0)
            let cpu = try MPIJob.cpuAcrossRanks(comm, since: cpu0)
            var report: [String: Any] = [
                "event": "trained", "model": "gnn", "ranks": comm.size, "train_seconds": seconds,
                "cpu_seconds_all_ranks": cpu.total, "cpu_seconds_max_rank": cpu.maxRank, "steps": exchange.steps,
                "allreduce_bytes_per_step": exchange.bytesPerStep, "allreduce_seconds_rank0": exchange.allreduceSeconds,
                "parameters": m.network.parameterCount, "best_epoch": summary.bestEpoch, "epochs_run": summary.epochsRun,
                "val_balanced_accuracy": summary.validation.balancedAccuracy,
            ]
            if comm.isRoot {
                let testMetrics = test.isEmpty ? nil : try GraphNetTraining.evaluate(m, on: test)
                let record = StoredGNNMetrics(validation: summary.validation, test: testMetrics, bestEpoch: summary.bestEpoch,
                                              epochsRun: summary.epochsRun, trainSeconds: summary.seconds, cohort: cohort,
                                              parameterCount: m.network.parameterCount)
                let info = try ModelStore(root: store).save(m, name: name, metrics: record)
                report["path"] = info.path
                report["version"] = info.version
                let d = try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys])
                print(String(decoding: d, as: UTF8.self))
            }
            try comm.barrier()
        }
    }
}
