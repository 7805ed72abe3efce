import ArgumentParser
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

    @Option(help: "Instruction dataset (file or folder).") var data: String
    @Option(help: "Split to train on.") var split: String = "train"
    @Option(help: "Config: tiny, small, base or peer.") var config: String = "small"
    @Option(help: "Model store folder.") var store: String
    @Option(help: "Model name in the store.") var name: String = "vlm"
    @Option(name: .customLong("align-steps"), help: "Stage 1 steps.") var alignSteps: Int = 150
    @Option(help: "Stage 2 steps.") var steps: Int = 600
    @Option(help: "Global batch size (split over the ranks).") var batch: Int = 16
    @Option(help: "Peak learning rate.") var lr: Float = 2e-3
    @Option(help: "Warmup steps per stage.") var warmup: Int = 30
    @Option(help: "Maximum vocabulary size.") var vocab: Int = 2000
    @Option(help: "Seed (weights and data order).") var seed: UInt64 = 1
    @Option(name: .customLong("checkpoint-every"), help: "Steps between checkpoints (rank 0 writes them).") var checkpointEvery: Int = 50

    func run() throws {
        let cfg0 = try VLMConfig.preset(config)
        let options = TrainingOptions(alignmentSteps: alignSteps, instructionSteps: steps, batchSize: batch,
                                      learningRate: lr, minLearningRate: lr / 20, warmupSteps: warmup, seed: seed,
                                      checkpointEvery: checkpointEvery)
        try MPIJob.run { comm in
            let dataset = try InstructionDataset.load(path: data, split: split)
            guard !dataset.records.isEmpty else { throw VLMError.invalidOption(name: "data", reason: "\(data) has no \(split) records") }
            let work = (store as NSString).appendingPathComponent("\(name)/checkpoint")
            let tokPath = work + "/tokenizer.json"
            // Rank 0 fixes the tokenizer (a resumed run reuses the checkpoint's); the others read the same file.
            if comm.isRoot {
                do { try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true) }
                catch { throw VLMError.io(path: work, reason: "cannot create checkpoint folder: \(error.localizedDescription)") }
                if !FileManager.default.fileExists(atPath: tokPath) {
                    let texts = dataset.records.flatMap { $0.turns.flatMap { [$0.question, $0.answer] } }
                    try Tokenizer.train(texts: texts, maxVocab: vocab).save(to: tokPath)
                }
            }
            try comm.barrier()
            let tokenizer = try Tokenizer.load(path: tokPath)
            var cfg = cfg0
            cfg.vocabSize = tokenizer.vocabSize
            let alignment = try EncodedCorpus(dataset: dataset, tokenizer: tokenizer, config: cfg) { turn in
                turn.answer.hasPrefix("Stage:") ? String(turn.answer.prefix { $0 != "\n" }) : nil
            }
            let instruction = try EncodedCorpus(dataset: dataset, tokenizer: tokenizer, config: cfg)
            let model = try VLMModel(config: cfg, seed: options.seed)
            let ckpt = work + "/checkpoint.safetensors"
            let resume = FileManager.default.fileExists(atPath: ckpt)
            let trainer = try VLMTrainer(model: model, alignment: alignment, instruction: instruction, options: options,
                                         checkpointPath: comm.isRoot ? ckpt : nil)
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
                let metrics: [String: Any] = [
                    "final_loss": Double(outcome.finalLoss), "steps": outcome.stepsDone,
                    "text_tokens_per_s": outcome.textTokensPerSecond, "parameters": model.parameterCount,
                    "train_records": dataset.records.count, "train_examples": instruction.examples.count,
                    "data": data, "options": options.description, "seed": Int(options.seed), "ranks": comm.size,
                ]
                let dir = try VLMStore.save(model: model, tokenizer: tokenizer, metrics: metrics, store: store, name: name)
                try? FileManager.default.removeItem(atPath: work)
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
