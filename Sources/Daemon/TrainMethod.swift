import Foundation
import GraphNet
import Retina
import RPC
import Tensors
import VesselGraph
import VLM

/// `train {kind, cohort?, generate?: {count, seed, sizePX?}, config?, name?}` as a job.
///
/// kind "gnn": graphs of the cohort (cached in `<cohort>/graph-cache`), GraphNet trained on the manifest's
/// train split with early stopping on val, tested on test, saved as the next version of `name` (default
/// "graphnet") and hot-swapped into the registry. `generate` first writes a synthetic cohort into
/// `<store>/.cohorts/<job>` (kept, so a later run can reuse it via `cohort`). `config`: `epochs`, `hidden`,
/// `layers`, `batchSize`, `learningRate`, `patience`, `seed`, `dropout`. Progress: phase, epoch, loss,
/// validation accuracy / balanced accuracy, ETA. Cancelling stops within one mini-batch and stores nothing.
struct TrainMethod {
    let configuration: DaemonConfiguration
    let jobs: JobManager
    let registry: ModelRegistry

    struct GenerateParams: Decodable { var count: Int; var seed: UInt64; var sizePX: Int? }
    struct ConfigParams: Decodable {
        var epochs: Int?
        var hidden: Int?
        var layers: Int?
        var batchSize: Int?
        var learningRate: Double?
        var patience: Int?
        var seed: UInt64?
        var dropout: Double?
        /// VLM: preset (tiny, small, base, peer; default small), steps of both stages, vocabulary cap.
        var preset: String?
        var alignmentSteps: Int?
        var instructionSteps: Int?
        var maxVocab: Int?
    }
    struct Params: Decodable {
        var kind: String
        var cohort: String?
        var generate: GenerateParams?
        var config: ConfigParams?
        var name: String?
    }

    func handle(_ ctx: RequestContext) throws -> JSONValue {
        let p = try ctx.decodeParams(Params.self)
        guard ["gnn", "vlm", "pipeline"].contains(p.kind) else {
            throw DaemonError.invalidParams("field 'kind' must be 'gnn', 'vlm' or 'pipeline', got '\(p.kind)'")
        }
        guard (p.cohort == nil) != (p.generate == nil) else {
            throw DaemonError.invalidParams("give exactly one of 'cohort' (a folder with manifest.jsonl) or 'generate' ({count, seed})")
        }
        if let c = p.cohort {
            guard c.hasPrefix("/") else { throw DaemonError.invalidParams("field 'cohort' must be an absolute path, got '\(c)'") }
            guard FileManager.default.fileExists(atPath: (c as NSString).appendingPathComponent("manifest.jsonl")) else {
                throw DaemonError.invalidParams("field 'cohort': \(c)/manifest.jsonl not found (make one with dataset/generate)")
            }
        }
        if let g = p.generate {
            guard g.count >= 6 && g.count <= configuration.maxGenerateCount else {
                throw DaemonError.invalidParams("field 'generate.count' must be 6...\(configuration.maxGenerateCount) (train, val and test need eyes), got \(g.count)")
            }
        }
        if p.kind == "pipeline" && p.name != nil {
            throw DaemonError.invalidParams("field 'name' applies to kind gnn or vlm; pipeline trains '\(configuration.defaultStageModel)' and '\(configuration.defaultExplainModel)'")
        }
        let name = p.name ?? (p.kind == "vlm" ? configuration.defaultExplainModel : configuration.defaultStageModel)
        guard !name.isEmpty, !name.contains("/"), !name.hasPrefix("."), Int(name) == nil else {
            throw DaemonError.invalidParams("field 'name' must be a plain folder name, got '\(name)'")
        }
        var arch = GraphNetConfig()
        var options = GraphNet.TrainingOptions()
        if let c = p.config {
            if let v = c.hidden { arch.hidden = v }
            if let v = c.layers { arch.layers = v }
            if let v = c.dropout { arch.dropout = Float(v) }
            if let v = c.epochs { options.epochs = v }
            if let v = c.batchSize { options.batchSize = v }
            if let v = c.learningRate { options.learningRate = Float(v) }
            if let v = c.patience { options.patience = v }
            if let v = c.seed { options.seed = v }
        }
        do {
            try arch.validate()
            try options.validate()
        } catch { throw DaemonError.invalidParams("field 'config': \(error)") }
        let vlmConfig: VLMConfig
        do { vlmConfig = try VLMConfig.preset(p.config?.preset ?? "small") } catch {
            throw DaemonError.invalidParams("field 'config.preset': \(error)")
        }
        var vlmOptions = VLM.TrainingOptions()
        if let c = p.config {
            if let v = c.alignmentSteps { vlmOptions.alignmentSteps = v }
            if let v = c.instructionSteps { vlmOptions.instructionSteps = v }
            if let v = c.batchSize { vlmOptions.batchSize = v }
            if let v = c.learningRate { vlmOptions.learningRate = Float(v); vlmOptions.minLearningRate = Float(v) / 20 }
            if let v = c.seed { vlmOptions.seed = v }
        }
        guard vlmOptions.alignmentSteps >= 0, vlmOptions.instructionSteps >= 1, vlmOptions.batchSize >= 1 else {
            throw DaemonError.invalidParams("field 'config': alignmentSteps >= 0, instructionSteps >= 1 and batchSize >= 1 are needed")
        }
        let maxVocab = p.config?.maxVocab ?? 2000
        let kind = p.kind, vlmName = p.kind == "pipeline" ? configuration.defaultExplainModel : name
        let gnnName = p.kind == "pipeline" ? configuration.defaultStageModel : name
        let store = configuration.storePath, registry = self.registry, defaults = configuration.defaultModels
        let cohortParam = p.cohort, generate = p.generate, architecture = arch, trainingOptions = options
        let title = kind == "pipeline" ? "training GNN '\(gnnName)' and VLM '\(vlmName)'" : "training \(kind == "gnn" ? "GNN" : "VLM") '\(name)'"
        let finalVLMOptions = vlmOptions
        let job = try jobs.start(kind: "train", title: title, sink: ctx.workDoneSink) { jc in
            var cohort = cohortParam ?? ""
            if let g = generate {
                cohort = (store as NSString).appendingPathComponent(".cohorts/\(jc.job.id)-\(g.count)-\(g.seed)")
                try FileManager.default.createDirectory(atPath: (cohort as NSString).deletingLastPathComponent,
                                                        withIntermediateDirectories: true)
                let sim = SimulatorConfig(sizePX: g.sizePX ?? 304, fovMM: 3)
                if let problem = sim.validationError() { throw DaemonError.invalidParams("generate: \(problem)") }
                _ = try DatasetMethod.generate(count: g.count, seed: g.seed, mix: .standard, config: sim, out: cohort, jc: jc,
                                               phase: "generate")
            }
            var gnn: JSONValue?, vlm: JSONValue?
            if kind != "vlm" {
                gnn = try Self.trainGNN(cohort: cohort, name: gnnName, arch: architecture, options: trainingOptions, store: store,
                                        registry: registry, defaultModels: defaults, jc: jc)
            }
            if kind != "gnn" {
                vlm = try Self.trainVLM(cohort: cohort, name: vlmName, config: vlmConfig, options: finalVLMOptions,
                                        maxVocab: maxVocab, store: store, registry: registry, defaultModels: defaults, jc: jc)
            }
            if kind == "pipeline" { return ["gnn": gnn!, "vlm": vlm!] }
            return gnn ?? vlm!
        }
        return ["jobId": .string(job.id), "name": .string(name)]
    }

    /// Graphs -> training -> test -> store -> hot swap. Mirrors `GraphNetTraining.train` but drives
    /// `ClassifierTrainer` itself so that its logits closure can stop the run when the job is cancelled.
    static func trainGNN(cohort: String, name: String, arch: GraphNetConfig, options: GraphNet.TrainingOptions, store: String,
                         registry: ModelRegistry, defaultModels: [String], jc: JobContext) throws -> JSONValue {
        let scheme = LabelScheme.stage
        let manifest = try CohortGraphLoader.manifest(at: cohort)
        let graphs = try CohortGraphLoader().load(manifest, scheme: scheme) { done, total in
            jc.report(done: done, total: total, message: "graph \(done)/\(total)", extra: ["phase": "graphs"])
        }
        try jc.checkCancelled()
        let (train, val, test) = CohortSplits.manifestSplit(graphs)
        guard !train.isEmpty, !val.isEmpty else {
            throw GraphNetError.badCohort(path: cohort, reason: "the manifest has no train/val split")
        }
        let trainLabels = try GraphNetTraining.labels(train), valLabels = try GraphNetTraining.labels(val)
        let normalizer = try FeatureNormalizer(fitting: train.map(\.graph))
        var a = arch
        a.classNames = scheme.classNames
        a.nodeFeatureCounts = normalizer.nodes.map(\.names.count)
        a.globalFeatureCount = normalizer.global.names.count
        let config = StagingModelConfig(architecture: a, normalizer: normalizer,
                                        healthyReferences: BiomarkerReference.fit(healthyGraphs: train.filter { $0.label == 0 }.map(\.graph)),
                                        builder: VesselGraphConfig(), labelScheme: scheme, training: options,
                                        dataFingerprint: CohortGraphLoader.fingerprint(train + val),
                                        trainCount: train.count, valCount: val.count)
        let model = try StagingModel(storedConfig: config, seed: options.seed)
        let trainGraphs = train.map(\.graph), valGraphs = val.map(\.graph)
        let summary = try ClassifierTrainer.train(
            module: model.network, classNames: a.classNames, trainLabels: trainLabels, valLabels: valLabels, options: options,
            logits: { split, idx, mode in
                try jc.checkCancelled()
                let src = split == .train ? trainGraphs : valGraphs
                return model.network.forward(try model.batch(idx.map { src[$0] }), mode: mode)
            },
            progress: { r in
                jc.report(done: r.epoch, total: r.epochs,
                          message: String(format: "epoch %d/%d: loss %.4f, val accuracy %.3f", r.epoch, r.epochs, r.trainLoss,
                                          r.validation.accuracy),
                          extra: ["phase": "train", "epoch": .int(Int64(r.epoch)), "epochs": .int(Int64(r.epochs)),
                                  "loss": .double(r.trainLoss), "valAccuracy": .double(r.validation.accuracy),
                                  "valBalancedAccuracy": .double(r.validation.balancedAccuracy),
                                  "learningRate": .double(r.learningRate), "trainerEtaSeconds": .double(r.etaSeconds)])
            })
        try jc.checkCancelled()
        let testMetrics = test.isEmpty ? nil : try GraphNetTraining.evaluate(model, on: test)
        try jc.checkCancelled()
        let record = StoredGNNMetrics(validation: summary.validation, test: testMetrics, bestEpoch: summary.bestEpoch,
                                   epochsRun: summary.epochsRun, trainSeconds: summary.seconds, cohort: cohort,
                                   parameterCount: model.network.parameterCount)
        let info = try ModelStore(root: store).save(model, name: name, metrics: record)
        let swap = try hotSwap(registry, name: name, version: String(info.version), defaultModels: defaultModels)
        var result: JSONObject = ["name": .string(name), "version": .string(String(info.version)), "path": .string(info.path),
                                  "cohort": .string(cohort), "bestEpoch": .int(Int64(summary.bestEpoch)),
                                  "epochsRun": .int(Int64(summary.epochsRun)),
                                  "valAccuracy": .double(summary.validation.accuracy),
                                  "replacedVersion": swap.replacedVersion.map { .string($0) } ?? .null]
        if let t = testMetrics {
            result["testAccuracy"] = .double(t.accuracy)
            result["testBalancedAccuracy"] = .double(t.balancedAccuracy)
        }
        return .object(result)
    }

    /// Ground-truth captions of the cohort (LLaVA JSON in `<store>/.datasets/`) -> two-stage VLM training ->
    /// the next `v<N>` of `name` -> hot swap. A cancelled run stores no version (VLMTrainingRun keeps its
    /// checkpoint in `<store>/<name>/checkpoint/`, so the same job run again resumes).
    static func trainVLM(cohort: String, name: String, config: VLMConfig, options: VLM.TrainingOptions, maxVocab: Int,
                         store: String, registry: ModelRegistry, defaultModels: [String], jc: JobContext) throws -> JSONValue {
        try jc.checkCancelled()
        jc.report(done: 0, total: options.totalSteps, message: "captions", extra: ["phase": "captions"])
        let (dataset, _) = try GroundTruthCaptions.dataset(cohort: cohort, style: .truth)
        let dataDir = (store as NSString).appendingPathComponent(".datasets")
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        let dataPath = (dataDir as NSString).appendingPathComponent("\(jc.job.id)-\(name).json")
        try dataset.write(to: dataPath)
        let flag = CancellationFlag()
        let run = try VLMTrainingRun.run(data: dataPath, config: config, options: options, store: store, name: name,
                                         maxVocab: maxVocab, cancel: flag) { p in
            if jc.isCancelled { flag.cancel() }
            jc.report(done: p.step, total: p.totalSteps,
                      message: String(format: "VLM stage %d step %d/%d: loss %.4f", p.stage, p.step, p.totalSteps, p.loss),
                      extra: ["phase": "train-vlm", "stage": .int(Int64(p.stage)), "step": .int(Int64(p.step)),
                              "loss": .double(Double(p.loss)), "learningRate": .double(Double(p.learningRate)),
                              "tokensPerSecond": .double(p.textTokensPerSecond)])
        }
        guard !run.outcome.cancelled, let dir = run.modelDirectory else { throw JobCancelled() }
        try jc.checkCancelled()
        let version = (dir as NSString).lastPathComponent
        let swap = try hotSwap(registry, name: name, version: version, defaultModels: defaultModels)
        return ["name": .string(name), "version": .string(version), "path": .string(dir), "cohort": .string(cohort),
                "steps": .int(Int64(run.outcome.stepsDone)), "finalLoss": .double(Double(run.outcome.finalLoss)),
                "parameters": .int(Int64(run.parameterCount)), "vocabSize": .int(Int64(run.vocabSize)),
                "trainExamples": .int(Int64(run.trainExamples)),
                "replacedVersion": swap.replacedVersion.map { .string($0) } ?? .null]
    }

    /// Hot swap to a freshly stored version: new requests get it; requests holding the old one finish on it.
    /// A default model trained into an empty registry stays loaded like one loaded at start-up.
    static func hotSwap(_ registry: ModelRegistry, name: String, version: String, defaultModels: [String]) throws -> ModelLoadOutcome {
        let keepAlive: Double? = registry.loaded()[name] == nil && defaultModels.contains(name) ? -1 : nil
        return try registry.load(name, version: version, keepAliveSeconds: keepAlive)
    }
}
