import ArgumentParser
import CommandOptions
import Foundation
import MessagePassing
import Tensors
import VLM

/// `capillary-mpi train-vlm`: `capillary train-vlm` as a data-parallel MPI job. Rank 0 trains (or reloads) the
/// tokenizer and owns the checkpoint; every rank encodes the same dataset, takes its block of every global
/// batch, and the gradients are summed with one MPI_Allreduce per step. A rerun after a kill resumes from rank
/// 0's checkpoint on every rank. Rank 0 writes the model store entry.
struct MPITrainVLMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-vlm",
        abstract: "Data-parallel VLM training (same options and result as capillary train-vlm, up to float rounding).")

    @OptionGroup var job: VLMTrainingArguments

    func run() throws {
        let cfg0 = try job.preset()
        let options = job.trainingOptions()
        let (data, store, name) = (job.data, job.store, job.name)
        try MPIJob.run { comm in
            let dataset = try VLMTrainingRun.loadDataset(data: data, split: job.split)
            let work = VLMTrainingRun.workFolder(store: store, name: name)
            // Rank 0 fixes the tokenizer (a resumed run reuses the checkpoint's); the others read the same file.
            if comm.isRoot { _ = try VLMTrainingRun.fixTokenizer(for: dataset, work: work, maxVocab: job.vocab) }
            try comm.barrier()
            let tokenizer = try Tokenizer.load(path: VLMTrainingRun.tokenizerPath(work: work))
            let corpora = try VLMTrainingRun.encode(dataset, tokenizer: tokenizer, config: cfg0)
            let model = try VLMModel(config: corpora.config, seed: options.seed)
            let ckpt = VLMTrainingRun.checkpointPath(work: work)
            let resume = FileManager.default.fileExists(atPath: ckpt)
            let trainer = try VLMTrainer(model: model, alignment: corpora.alignment, instruction: corpora.instruction,
                                         options: options, checkpointPath: comm.isRoot ? ckpt : nil)
            if !comm.isRoot && resume { try trainer.restore(from: ckpt) }
            let exchange = GradientExchange(comm: comm)
            trainer.parallel = exchange.parallelism
            let cpu0 = MPIJob.cpuSeconds()
            let t0 = Date()
            let outcome = try trainer.run { p in
                if p.step == 1 || p.step % 10 == 0 || p.step == p.totalSteps { MPIJob.note(comm, p.line) }
            }
            let seconds = Date().timeIntervalSince(t0)
            let cpu = try MPIJob.cpuAcrossRanks(comm, since: cpu0)
            if comm.isRoot {
                let dir = try VLMTrainingRun.storeModel(model, tokenizer: tokenizer, outcome: outcome, dataset: dataset, corpora: corpora,
                                                        data: data, options: options, extraMetrics: ["ranks": comm.size],
                                                        store: store, name: name)
                let report: [String: Any] = [
                    "event": "trained", "model": "vlm", "ranks": comm.size, "train_seconds": seconds,
                    "cpu_seconds_all_ranks": cpu.total, "cpu_seconds_max_rank": cpu.maxRank, "steps": exchange.steps, "resumed_from": outcome.resumedFrom,
                    "allreduce_bytes_per_step": exchange.bytesPerStep, "allreduce_seconds_rank0": exchange.allreduceSeconds,
                    "parameters": model.parameterCount, "final_loss": Double(outcome.finalLoss), "path": dir,
                ]
                let d = try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys])
                print(String(decoding: d, as: UTF8.self))
            }
            try comm.barrier()
        }
    }
}
