import Foundation

/// Ground truth of one test image (from the simulator's meta JSON).
public struct CaseTruth: Sendable, Equatable {
    public var stage: String?
    public var severity: Double?
    public var fazAreaMM2: Double?
}

/// One attributed graph structure (integrated gradients over a node or edge of the vessel graph).
public struct StructureAttribution: Sendable, Equatable {
    /// Node or edge type ("vessel", "ica", "faz", ...).
    public var type: String
    /// Index within its type.
    public var index: Int?
    /// ETDRS sector name.
    public var sector: String?
    /// Attribution score (signed, as written by the attribution step).
    public var score: Double
}

/// One test image of the report, from `cases/NAME.json`. Every field is optional except the name: what a
/// case file does not provide is shown as not provided, never filled in.
public struct CaseRecord: Sendable {
    /// File name without `.json`.
    public var name: String
    /// Resolved paths of the pictures (absolute, or relative to the demo folder in the file).
    public var imagePath: String?
    public var overlayPath: String?
    public var heatmapPath: String?
    public var truth: CaseTruth?
    /// GNN's predicted stage and its class probabilities in class order.
    public var gnnStage: String?
    public var gnnProbabilities: [(label: String, value: Double)]?
    /// The student VLM's explanation and the stage it states (nil when its `Stage:` line is unreadable).
    public var explanation: String?
    public var explanationStage: String?
    /// Integrated-gradients completeness error and the top attributed structures.
    public var convergenceDelta: Double?
    public var topStructures: [StructureAttribution]?
    /// Free-text notes written by the case producer (e.g. why a part is missing).
    public var notes: [String]

    /// Names of the parts this case does not provide.
    public var missingParts: [String] {
        var m: [String] = []
        if imagePath == nil { m.append("image") }
        if overlayPath == nil { m.append("overlay") }
        if heatmapPath == nil { m.append("heatmap") }
        if truth == nil { m.append("truth") }
        if gnnStage == nil && gnnProbabilities == nil { m.append("gnn") }
        if explanation == nil { m.append("explanation") }
        if convergenceDelta == nil && topStructures == nil { m.append("attribution") }
        return m
    }
}

/// One epoch line of `capillary train-gnn --json`.
public struct GNNEpochPoint: Sendable, Equatable {
    public var model: String
    public var epoch: Int
    public var trainLoss: Double
    public var valBalancedAccuracy: Double?
    public var valAccuracy: Double?
}

/// One step line of `capillary train-vlm --log`.
public struct VLMStepPoint: Sendable, Equatable {
    /// 1 = alignment, 2 = instruction tuning.
    public var stage: Int
    public var step: Int
    /// Answer-token cross-entropy, nats.
    public var loss: Double
    public var textTokensPerSecond: Double?
}

/// Test metrics of one classifier (`capillary eval-gnn --json` result entry).
public struct ClassifierMetrics: Sendable {
    public var model: String
    public var classNames: [String]
    public var count: Int?
    public var accuracy: Double?
    public var balancedAccuracy: Double?
    public var macroF1: Double?
    public var qwk: Double?
    public var macroAUC: Double?
    /// confusion[truth][predicted].
    public var confusion: [[Int]]?
}

/// Summary of `capillary eval-vlm --out FILE`.
public struct StudentMetrics: Sendable {
    public var count: Int?
    public var unparsed: Int?
    public var accuracy: Double?
    public var balancedAccuracy: Double?
    public var macroF1: Double?
    public var qwk: Double?
    /// confusion[truth][predicted], predicted column 3 = unparsed.
    public var confusion: [[Int]]?
    public var factF1: Double?
    public var factPrecision: Double?
    public var factRecall: Double?
    public var hallucinationRate: Double?
    public var meanTTFTMS: Double?
    public var decodeTokensPerSecond: Double?
}

/// Whether an input file was there and usable.
public enum InputStatus: Sendable, Equatable {
    case found(detail: String)
    case missing
    case unreadable(reason: String)

    /// True for `.found`.
    public var isFound: Bool { if case .found = self { return true } else { return false } }
}

/// `InputStatus` of a file that could not be used, as an error for `Result`.
public enum InputStatusError: Error, Sendable {
    case missing
    case unreadable(reason: String)
    var status: InputStatus {
        switch self { case .missing: return .missing; case .unreadable(let r): return .unreadable(reason: r) }
    }
}

/// Everything `capillary report` reads from a demo output folder. Only `cases/*.json` is required.
public struct ReportInputs: Sendable {
    /// The demo output folder.
    public var dir: String
    public var cases: [CaseRecord]
    public var gnnEpochs: [GNNEpochPoint] = []
    public var gnnBestEpoch: Int?
    public var gnnEvaluation: (modelPath: String?, split: String?, results: [ClassifierMetrics])?
    /// Training steps by student variant ("FT", "GFT").
    public var vlmSteps: [String: [VLMStepPoint]] = [:]
    /// Evaluation by student variant ("FT", "GFT").
    public var student: [String: StudentMetrics] = [:]
    /// Each optional input file (relative name) and what was found.
    public var statuses: [(file: String, status: InputStatus)] = []

    /// Student variants and their files, in display order.
    public static let studentVariants: [(name: String, train: String, eval: String)] = [
        ("FT", "vlm-ft-train.jsonl", "eval-vlm-ft.json"), ("GFT", "vlm-gft-train.jsonl", "eval-vlm-gft.json"),
    ]

    /// Reads `dir`. Optional files that are absent or unreadable are recorded in `statuses`, not thrown.
    /// - Throws: `ReportError.noCases` when `dir/cases` holds no readable case file.
    public static func load(dir: String) throws -> ReportInputs {
        let fm = FileManager.default
        let casesDir = (dir as NSString).appendingPathComponent("cases")
        let names = ((try? fm.contentsOfDirectory(atPath: casesDir)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
        var statuses: [(String, InputStatus)] = []
        var cases: [CaseRecord] = []
        for n in names {
            let path = (casesDir as NSString).appendingPathComponent(n)
            guard let data = fm.contents(atPath: path), let o = JSONFields(data: data) else {
                statuses.append(("cases/\(n)", .unreadable(reason: "not a JSON object"))); continue
            }
            cases.append(parseCase(o, name: String(n.dropLast(5)), dir: dir))
        }
        guard !cases.isEmpty else { throw ReportError.noCases(dir: dir) }
        var r = ReportInputs(dir: dir, cases: cases)
        r.statuses = [("cases/*.json", .found(detail: "\(cases.count) case(s)"))] + statuses

        func take(_ name: String, _ use: ([JSONFields]) -> String?) {
            switch readObjects(dir: dir, name: name) {
            case .failure(let e): r.statuses.append((name, e.status))
            case .success(let objects):
                if let detail = use(objects) { r.statuses.append((name, .found(detail: detail))) }
                else { r.statuses.append((name, .unreadable(reason: "no record of the expected shape"))) }
            }
        }
        take("gnn-train.jsonl") { lines in
            let epochs = lines.filter { $0.string("event") == "epoch" }.compactMap { o -> GNNEpochPoint? in
                guard let e = o.int("epoch"), let loss = o.double("train_loss") else { return nil }
                return GNNEpochPoint(model: o.string("model") ?? "GNN", epoch: e, trainLoss: loss,
                                     valBalancedAccuracy: o.double("val_balanced_accuracy"), valAccuracy: o.double("val_accuracy"))
            }
            r.gnnEpochs = epochs
            r.gnnBestEpoch = lines.last { $0.string("event") == "stored" }?.int("best_epoch")
            return epochs.isEmpty ? nil : "\(epochs.count) epoch lines"
        }
        take("eval-gnn.json") { lines in
            // --baselines also prints the baselines' epoch lines before the result object.
            guard let o = lines.last(where: { $0.has("results") }), let results = o.objects("results") else { return nil }
            let parsed = results.compactMap(parseClassifier)
            r.gnnEvaluation = (o.string("model"), o.string("split"), parsed)
            return parsed.isEmpty ? nil : "\(parsed.count) model(s)"
        }
        for v in studentVariants {
            take(v.train) { lines in
                let pts = lines.compactMap { o -> VLMStepPoint? in
                    guard let st = o.int("step"), let loss = o.double("loss") else { return nil }
                    return VLMStepPoint(stage: o.int("stage") ?? 0, step: st, loss: loss, textTokensPerSecond: o.double("text_tokens_per_s"))
                }
                r.vlmSteps[v.name] = pts.isEmpty ? nil : pts
                return pts.isEmpty ? nil : "\(pts.count) step lines"
            }
            take(v.eval) { lines in
                guard let o = lines.last, let s = o.object("staging") else { return nil }
                let f = o.object("facts")
                r.student[v.name] = StudentMetrics(
                    count: s.int("count"), unparsed: s.int("unparsed"), accuracy: s.double("accuracy"),
                    balancedAccuracy: s.double("balanced_accuracy"), macroF1: s.double("macro_f1"), qwk: s.double("qwk"),
                    confusion: s.matrix("confusion"), factF1: f?.double("f1"), factPrecision: f?.double("precision"),
                    factRecall: f?.double("recall"), hallucinationRate: f?.double("hallucination_rate"),
                    meanTTFTMS: o.double("mean_ttft_ms"), decodeTokensPerSecond: o.double("decode_tokens_per_s"))
                return "\(s.int("count") ?? 0) images"
            }
        }
        return r
    }

    /// The JSON objects of `dir/name` (one JSON document, or JSON lines); `.missing` or `.unreadable` otherwise.
    static func readObjects(dir: String, name: String) -> Result<[JSONFields], InputStatusError> {
        let path = (dir as NSString).appendingPathComponent(name)
        guard let data = FileManager.default.contents(atPath: path) else { return .failure(.missing) }
        let objects = JSONFields(data: data).map { [$0] } ?? jsonLines(String(decoding: data, as: UTF8.self)).objects
        return objects.isEmpty ? .failure(.unreadable(reason: "no JSON object in the file")) : .success(objects)
    }

    /// Absolute path of `p` (relative paths are relative to the demo folder).
    static func resolve(_ p: String?, dir: String) -> String? {
        guard let p, !p.isEmpty else { return nil }
        return p.hasPrefix("/") ? p : (dir as NSString).appendingPathComponent(p)
    }

    /// Known stage classes first, in clinical order, then anything else alphabetically.
    static func ordered(_ probs: [String: Double]) -> [(label: String, value: Double)] {
        let order = ["healthy", "npdr", "pdr"]
        let keys = probs.keys.sorted { a, b in
            let ia = order.firstIndex(of: a.lowercased()) ?? Int.max, ib = order.firstIndex(of: b.lowercased()) ?? Int.max
            return ia != ib ? ia < ib : a < b
        }
        return keys.map { ($0, probs[$0]!) }
    }

    static func parseCase(_ o: JSONFields, name: String, dir: String) -> CaseRecord {
        let truth = o.object("truth").map { t in
            CaseTruth(stage: t.string("stage"), severity: t.double("severity"), fazAreaMM2: t.double("fazAreaMM2"))
        }
        let gnn = o.object("gnn")
        let att = o.object("attribution")
        let top = att?.objects("top")?.compactMap { s -> StructureAttribution? in
            guard let score = s.double("score") else { return nil }
            return StructureAttribution(type: s.string("type") ?? "?", index: s.int("index"), sector: s.string("sector"), score: score)
        }
        var notes: [String] = []
        if let n = o.string("notes") { notes = [n] } else if let ns = o.strings("notes") { notes = ns }
        return CaseRecord(name: name, imagePath: resolve(o.string("image"), dir: dir), overlayPath: resolve(o.string("overlay"), dir: dir),
                          heatmapPath: resolve(o.string("heatmap"), dir: dir), truth: truth, gnnStage: gnn?.string("stage"),
                          gnnProbabilities: gnn?.numberMap("probabilities").map(ordered), explanation: o.string("explanation"),
                          explanationStage: o.string("explanationStage"), convergenceDelta: att?.double("convergenceDelta"),
                          topStructures: top, notes: notes)
    }

    static func parseClassifier(_ o: JSONFields) -> ClassifierMetrics? {
        guard let t = o.object("test") else { return nil }
        return ClassifierMetrics(model: o.string("model") ?? "?", classNames: t.strings("class_names") ?? [], count: t.int("count"),
                                 accuracy: t.double("accuracy"), balancedAccuracy: t.double("balanced_accuracy"),
                                 macroF1: t.double("macro_f1"), qwk: t.double("qwk"), macroAUC: t.double("macro_auc"),
                                 confusion: t.matrix("confusion"))
    }
}
