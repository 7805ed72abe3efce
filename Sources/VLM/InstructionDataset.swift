import Foundation
import Retina

/// One question and its answer about an image.
public struct InstructionTurn: Sendable, Equatable {
    /// The human's question, without the `<image>` tag.
    public var question: String
    /// The assistant's answer.
    public var answer: String
    /// A turn.
    public init(question: String, answer: String) { self.question = question; self.answer = answer }
}

/// One LLaVA conversation record: an image and its question/answer turns.
public struct InstructionRecord: Sendable, Equatable {
    /// Record id.
    public var id: String
    /// Image path, resolved against the dataset file's folder.
    public var imagePath: String
    /// Question/answer pairs in order.
    public var turns: [InstructionTurn]
    /// Split named by the record ("train", "val", "test"), if any.
    public var split: String?
    /// The stage the graph teacher (the GNN) predicted for this image, when the record says: a top-level
    /// `teacher_stage` string, or the `model_stage` of the `diagnosis.stage` entry of `findings` (datasets
    /// from `capillary knowledge`). Used for the teacher-agreement metric.
    public var teacherStage: DRStage?
    /// Graph biomarkers measured by the teacher for this image (`findings[].measurement` name -> value,
    /// in the measurement's own unit); empty for datasets without findings. Stage 1 can distil them into
    /// the vision encoder.
    public var measurements: [String: Double]
    /// A record.
    public init(id: String, imagePath: String, turns: [InstructionTurn], split: String? = nil,
                teacherStage: DRStage? = nil, measurements: [String: Double] = [:]) {
        self.id = id; self.imagePath = imagePath; self.turns = turns; self.split = split
        self.teacherStage = teacherStage; self.measurements = measurements
    }

    /// The first turn whose answer starts with `Stage:` (the diagnosis question), if any.
    public var diagnosisTurn: InstructionTurn? { turns.first { $0.answer.hasPrefix("Stage:") } }
}

/// A LLaVA-format instruction dataset: a JSON array or JSONL of
/// `{"id", "image", "conversations": [{"from": "human", "value": "<image>\n..."}, {"from": "gpt", "value": "..."}]}`
/// (extra keys such as `findings` or `split` are allowed). Image paths are relative to the dataset file.
public struct InstructionDataset: Sendable {
    /// The records, in file order.
    public var records: [InstructionRecord]

    /// A dataset of `records`.
    public init(records: [InstructionRecord]) { self.records = records }

    /// Loads `path`: a `.json` / `.jsonl` file, or a folder holding `<split>.json` or `<split>.jsonl`.
    /// With a file and a `split`, records carrying a different `split` field are dropped (records without
    /// one are kept).
    /// - Throws: `VLMError.io` (missing file) or `.badRecord` naming the file and record index.
    public static func load(path: String, split: String? = nil) throws -> InstructionDataset {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw VLMError.io(path: path, reason: "no such dataset file or folder")
        }
        if isDir.boolValue {
            let name = split ?? "train"
            for ext in ["json", "jsonl"] {
                let f = (path as NSString).appendingPathComponent("\(name).\(ext)")
                if FileManager.default.fileExists(atPath: f) { return try load(path: f, split: nil) }
            }
            throw VLMError.io(path: path, reason: "folder holds no \(name).json or \(name).jsonl")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw VLMError.io(path: path, reason: "cannot read dataset")
        }
        var objects: [Any] = []
        if path.hasSuffix(".jsonl") {
            for (n, line) in String(decoding: data, as: UTF8.self).split(separator: "\n").enumerated() {
                let t = line.trimmingCharacters(in: .whitespaces)
                if t.isEmpty { continue }
                guard let o = try? JSONSerialization.jsonObject(with: Data(t.utf8)) else {
                    throw VLMError.badRecord(path: path, index: n, reason: "line \(n + 1) is not valid JSON")
                }
                objects.append(o)
            }
        } else {
            guard let arr = (try? JSONSerialization.jsonObject(with: data)) as? [Any] else {
                throw VLMError.badRecord(path: path, index: 0, reason: "expected a JSON array of conversation records")
            }
            objects = arr
        }
        let root = (path as NSString).deletingLastPathComponent
        var records: [InstructionRecord] = []
        for (i, o) in objects.enumerated() {
            let r = try parse(o, index: i, path: path, root: root)
            if let split, let s = r.split, s != split { continue }
            records.append(r)
        }
        return InstructionDataset(records: records)
    }

    static func parse(_ o: Any, index: Int, path: String, root: String) throws -> InstructionRecord {
        func bad(_ s: String) -> VLMError { .badRecord(path: path, index: index, reason: s) }
        guard let d = o as? [String: Any] else { throw bad("not a JSON object") }
        guard let image = d["image"] as? String else { throw bad("missing \"image\" string") }
        guard let conv = d["conversations"] as? [[String: Any]] else { throw bad("missing \"conversations\" array") }
        var turns: [InstructionTurn] = []
        var pending: String?
        for (k, m) in conv.enumerated() {
            guard let from = m["from"] as? String, let value = m["value"] as? String else {
                throw bad("conversation \(k) needs \"from\" and \"value\" strings")
            }
            switch from {
            case "human":
                pending = value.replacingOccurrences(of: "<image>\n", with: "")
                    .replacingOccurrences(of: "<image>", with: "").trimmingCharacters(in: .whitespacesAndNewlines)
            case "gpt":
                guard let q = pending else { throw bad("conversation \(k): gpt turn without a human question") }
                turns.append(InstructionTurn(question: q, answer: value))
                pending = nil
            default: throw bad("conversation \(k): \"from\" must be human or gpt, got \"\(from)\"")
            }
        }
        guard !turns.isEmpty else { throw bad("no question/answer pair") }
        let id = (d["id"] as? String) ?? (d["id"].map { "\($0)" } ?? "record\(index)")
        let resolved = image.hasPrefix("/") ? image : (root as NSString).appendingPathComponent(image)
        var teacher = (d["teacher_stage"] as? String).flatMap { DRStage(rawValue: $0.lowercased()) }
        var measurements: [String: Double] = [:]
        for f in (d["findings"] as? [[String: Any]]) ?? [] {
            if teacher == nil, f["subject"] as? String == "diagnosis.stage", let m = f["model_stage"] as? String {
                teacher = DRStage(rawValue: m.lowercased())
            }
            if let m = f["measurement"] as? [String: Any], let name = m["name"] as? String,
               let value = (m["value"] as? NSNumber)?.doubleValue, value.isFinite {
                measurements[name] = value
            }
        }
        return InstructionRecord(id: id, imagePath: resolved, turns: turns, split: d["split"] as? String,
                                 teacherStage: teacher, measurements: measurements)
    }

    /// Writes records as a LLaVA JSON array, image paths relative to the file's folder, each record's
    /// `split` kept, plus any `extraFields` per record id (e.g. findings).
    /// - Throws: `VLMError.io` naming the file.
    public func write(to path: String, extraFields: [String: [String: Any]] = [:]) throws {
        let root = (path as NSString).deletingLastPathComponent
        let arr: [[String: Any]] = records.map { r in
            var conv: [[String: String]] = []
            for (k, t) in r.turns.enumerated() {
                conv.append(["from": "human", "value": (k == 0 ? "<image>\n" : "") + t.question])
                conv.append(["from": "gpt", "value": t.answer])
            }
            var o: [String: Any] = ["id": r.id, "image": Self.relativePath(r.imagePath, from: root), "conversations": conv]
            if let s = r.split { o["split"] = s }
            if let t = r.teacherStage { o["teacher_stage"] = t.rawValue }
            for (k, v) in extraFields[r.id] ?? [:] { o[k] = v }
            return o
        }
        do {
            let data = try JSONSerialization.data(withJSONObject: arr, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch { throw VLMError.io(path: path, reason: "cannot write dataset: \(error.localizedDescription)") }
    }

    /// `path` relative to folder `root` when both are absolute or both relative (with `..` as needed).
    static func relativePath(_ path: String, from root: String) -> String {
        let a = URL(fileURLWithPath: path).standardizedFileURL.pathComponents
        let b = URL(fileURLWithPath: root.isEmpty ? "." : root).standardizedFileURL.pathComponents
        var i = 0
        while i < a.count && i < b.count && a[i] == b[i] { i += 1 }
        return (Array(repeating: "..", count: b.count - i) + a[i...]).joined(separator: "/")
    }
}

/// One training example: an image's patches and a text sequence with its answer-only loss mask.
public struct EncodedExample: Sendable {
    /// Index into the image table of `EncodedCorpus`.
    public var imageIndex: Int
    /// `<human> question <gpt> answer <eos>`, truncated to the model's text length.
    public var ids: [Int]
    /// True for tokens the loss is taken on (the answer and its `<eos>`).
    public var lossMask: [Bool]
}

/// A dataset encoded for a model: images as patches (each loaded once) and tokenized turns.
public struct EncodedCorpus: Sendable {
    /// Patches per image ([visualTokens * patchDim] each).
    public var images: [[Float]]
    /// Every turn of every record as an example.
    public var examples: [EncodedExample]
    /// Per image: the stage index (0 healthy, 1 NPDR, 2 PDR) of its record's diagnosis answer, -1 without one.
    public var stages: [Int]
    /// Per image: its record's graph biomarkers (`InstructionRecord.measurements`).
    public var measurements: [[String: Double]]

    /// The prompt part of a turn: `<human> question <gpt>`.
    public static func promptIDs(question: String, tokenizer: Tokenizer) -> [Int] {
        [Tokenizer.human] + tokenizer.encode(question) + [Tokenizer.gpt]
    }

    /// Encodes `dataset`; `answerTransform` rewrites answers (e.g. to the first line for alignment).
    /// - Throws: `VLMError.io` naming an image that cannot be read.
    public init(dataset: InstructionDataset, tokenizer: Tokenizer, config: VLMConfig,
                answerTransform: ((InstructionTurn) -> String?)? = nil) throws {
        images = []
        examples = []
        stages = []
        measurements = []
        for r in dataset.records {
            let image: GrayImage
            do { image = try ImageIO.read(path: r.imagePath) }
            catch { throw VLMError.io(path: r.imagePath, reason: "cannot read image: \(error)") }
            let index = images.count
            images.append(ImagePatches.patches(of: image, config: config))
            stages.append(r.diagnosisTurn.flatMap { StageLine.parse($0.answer) }?.index ?? -1)
            measurements.append(r.measurements)
            for t in r.turns {
                guard let answer = answerTransform.map({ $0(t) }) ?? t.answer else { continue }
                let prompt = Self.promptIDs(question: t.question, tokenizer: tokenizer)
                let ans = tokenizer.encode(answer) + [Tokenizer.eos]
                var ids = prompt + ans
                var mask = [Bool](repeating: false, count: prompt.count) + [Bool](repeating: true, count: ans.count)
                if ids.count > config.maxTextTokens {
                    ids = Array(ids.prefix(config.maxTextTokens)); mask = Array(mask.prefix(config.maxTextTokens))
                }
                examples.append(EncodedExample(imageIndex: index, ids: ids, lossMask: mask))
            }
        }
    }

    /// Number of answer tokens (the loss is taken on these).
    public var answerTokenCount: Int { examples.reduce(0) { $0 + $1.lossMask.filter { $0 }.count } }
}
