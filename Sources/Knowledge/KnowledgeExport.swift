import Foundation
import VLM

/// Writes a cohort's knowledge as an instruction dataset VLM's `InstructionDataset` loads: per split
/// `<split>.json` (a LLaVA JSON array) and `<split>.jsonl` (one record per line), plus `all.jsonl`. Each
/// record: `id`, `image` (relative to the output folder), `conversations` (human/gpt turns, `<image>` in the
/// first question), `split`, and alongside for evaluation `findings` (the `Finding` JSON), `facts` (canonical
/// fact strings), `stage`, `label`, `evidence_source`. Keys are sorted and records keep the input order, so
/// the same knowledge gives byte-identical files.
public enum KnowledgeExport {
    /// What was written.
    public struct Summary: Sendable, Equatable {
        /// Files written, in order.
        public var files: [String]
        /// Records per split name ("none" for records without a split).
        public var counts: [String: Int]
    }

    /// Writes `images` into folder `out` (created if needed).
    /// - Throws: `KnowledgeError.io` naming the file or folder.
    @discardableResult
    public static func write(_ images: [ImageKnowledge], to out: String) throws -> Summary {
        do { try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true) }
        catch { throw KnowledgeError.io(path: out, reason: "cannot create the output folder: \(error.localizedDescription)") }
        let root = URL(fileURLWithPath: out).standardizedFileURL.path
        var bySplit: [String: [[String: Any]]] = [:]
        var order: [String] = []
        var all: [[String: Any]] = []
        for k in images {
            let r = try record(k, root: root)
            let s = k.split ?? "none"
            if bySplit[s] == nil { order.append(s) }
            bySplit[s, default: []].append(r)
            all.append(r)
        }
        var files: [String] = []
        for s in order.sorted() {
            let json = (out as NSString).appendingPathComponent("\(s).json")
            try writeData(try jsonData(bySplit[s]!, pretty: true), to: json)
            let jsonl = (out as NSString).appendingPathComponent("\(s).jsonl")
            try writeData(try lines(bySplit[s]!), to: jsonl)
            files += [json, jsonl]
        }
        let allPath = (out as NSString).appendingPathComponent("all.jsonl")
        try writeData(try lines(all), to: allPath)
        files.append(allPath)
        return Summary(files: files, counts: bySplit.mapValues(\.count))
    }

    static func record(_ k: ImageKnowledge, root: String) throws -> [String: Any] {
        var conv: [[String: String]] = []
        for (i, t) in k.turns.enumerated() {
            conv.append(["from": "human", "value": (i == 0 ? "<image>\n" : "") + t.question])
            conv.append(["from": "gpt", "value": t.answer])
        }
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        let findings: Any
        do { findings = try JSONSerialization.jsonObject(with: try enc.encode(k.findings)) }
        catch { throw KnowledgeError.io(path: k.id, reason: "cannot encode findings: \(error)") }
        let abs = URL(fileURLWithPath: k.imagePath).standardizedFileURL.path
        var r: [String: Any] = ["id": k.id, "image": relativePath(abs, from: root), "conversations": conv,
                                "findings": findings, "facts": k.facts, "stage": k.stage,
                                "evidence_source": k.evidenceSource, "has_evidence": k.hasEvidence]
        if let s = k.split { r["split"] = s }
        if let l = k.label { r["label"] = l }
        return r
    }

    static func jsonData(_ o: Any, pretty: Bool) throws -> Data {
        var opts: JSONSerialization.WritingOptions = [.sortedKeys, .withoutEscapingSlashes]
        if pretty { opts.insert(.prettyPrinted) }
        do { return try JSONSerialization.data(withJSONObject: o, options: opts) }
        catch { throw KnowledgeError.io(path: "<json>", reason: "cannot encode: \(error)") }
    }

    static func lines(_ records: [[String: Any]]) throws -> Data {
        var d = Data()
        for r in records { d.append(try jsonData(r, pretty: false)); d.append(0x0A) }
        return d
    }

    static func writeData(_ d: Data, to path: String) throws {
        do { try d.write(to: URL(fileURLWithPath: path), options: .atomic) }
        catch { throw KnowledgeError.io(path: path, reason: "cannot write: \(error.localizedDescription)") }
    }

    /// `path` relative to `root` (both absolute), with `..` as needed.
    static func relativePath(_ path: String, from root: String) -> String {
        let a = URL(fileURLWithPath: path).pathComponents, b = URL(fileURLWithPath: root).pathComponents
        var i = 0
        while i < a.count && i < b.count && a[i] == b[i] { i += 1 }
        return (Array(repeating: "..", count: b.count - i) + a[i...]).joined(separator: "/")
    }
}
