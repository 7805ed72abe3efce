import ArgumentParser
import CommandOptions
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
    @OptionGroup var model: GNNModelOptions
    @OptionGroup var training: GNNTrainingOptions

    func run() throws {
        let arch = try model.config()
        let options = try training.options()
        let scheme = training.scheme
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
                let (info, _) = try TrainedGNNStore.save(m, summary: summary, test: test, cohort: cohort, store: store, name: name)
                report["path"] = info.path
                report["version"] = info.version
                let d = try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys])
                print(String(decoding: d, as: UTF8.self))
            }
            try comm.barrier()
        }
    }
}
