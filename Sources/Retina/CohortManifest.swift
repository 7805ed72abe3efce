import Foundation

/// Dataset split of one image.
public enum DatasetSplit: String, Codable, Sendable, CaseIterable {
    case train, val, test
}

/// One image of a cohort: where it is and what is known about it. Paths are relative to the cohort folder.
public struct CohortEntry: Codable, Sendable, Equatable {
    /// Identifier, e.g. "eye_00001" (unique within a manifest).
    public var id: String
    /// Image path relative to the cohort folder.
    public var path: String
    /// Stage label, nil when unlabelled.
    public var label: DRStage?
    /// 5-level grade 0-4 (synthetic cohorts), nil when unknown (e.g. DRAC, which only has 0/1/2).
    public var grade: Int?
    /// Split, nil when not assigned.
    public var split: DatasetSplit?
    /// Simulated severity in [0, 1] (synthetic only).
    public var severity: Double?
    /// Seed that regenerates the eye (synthetic only).
    public var seed: UInt64?
    /// Vessel-mask PNG path, relative.
    public var vesselMaskPath: String?
    /// FAZ-mask PNG path, relative.
    public var fazMaskPath: String?
    /// Dropout-mask PNG path, relative.
    public var dropoutMaskPath: String?
    /// Ground-truth JSON path, relative.
    public var metaPath: String?
    /// Field of view (square side), mm, when known.
    public var fovMM: Double?

    enum CodingKeys: String, CodingKey {
        case id, path, label, grade, split, severity, seed
        case vesselMaskPath = "vessel_mask_path"
        case fazMaskPath = "faz_mask_path"
        case dropoutMaskPath = "dropout_mask_path"
        case metaPath = "meta_path"
        case fovMM = "fov_mm"
    }

    /// An entry; everything but `id` and `path` is optional.
    public init(id: String, path: String, label: DRStage? = nil, grade: Int? = nil, split: DatasetSplit? = nil,
                severity: Double? = nil, seed: UInt64? = nil, vesselMaskPath: String? = nil,
                fazMaskPath: String? = nil, dropoutMaskPath: String? = nil, metaPath: String? = nil,
                fovMM: Double? = nil) {
        self.id = id; self.path = path; self.label = label; self.grade = grade; self.split = split
        self.severity = severity; self.seed = seed; self.vesselMaskPath = vesselMaskPath
        self.fazMaskPath = fazMaskPath; self.dropoutMaskPath = dropoutMaskPath; self.metaPath = metaPath
        self.fovMM = fovMM
    }
}

/// Why a manifest or dataset could not be read. Every case names the file.
public enum CohortError: Error, Equatable, CustomStringConvertible {
    /// The file or folder does not exist.
    case notFound(path: String)
    /// A manifest line is not valid JSON for a `CohortEntry`.
    case badManifestLine(path: String, line: Int, reason: String)
    /// A labels CSV row cannot be understood.
    case badLabelRow(path: String, line: Int, reason: String)
    /// An image listed by the labels or manifest is missing or unreadable.
    case badImage(path: String, reason: String)
    /// Writing failed.
    case io(path: String, reason: String)
    /// A user option is invalid (e.g. stage fractions).
    case invalidOption(name: String, reason: String)

    public var description: String {
        switch self {
        case .notFound(let p): return "\(p): no such file or folder"
        case .badManifestLine(let p, let l, let r): return "\(p):\(l): bad manifest line: \(r)"
        case .badLabelRow(let p, let l, let r): return "\(p):\(l): bad label row: \(r)"
        case .badImage(let p, let r): return "\(p): \(r)"
        case .io(let p, let r): return "\(p): \(r)"
        case .invalidOption(let n, let r): return "--\(n): \(r)"
        }
    }
}

/// A cohort: a folder and one entry per image (`manifest.jsonl`, plus `manifest.csv` for spreadsheets).
public struct CohortManifest: Sendable, Equatable {
    /// Folder that entry paths are relative to.
    public var root: String
    /// The images.
    public var entries: [CohortEntry]

    /// A manifest over `root`.
    public init(root: String, entries: [CohortEntry]) {
        self.root = root
        self.entries = entries
    }

    /// Absolute (or root-joined) path of a relative entry path.
    public func resolve(_ relative: String) -> String {
        relative.hasPrefix("/") ? relative : (root as NSString).appendingPathComponent(relative)
    }

    /// Reads a JSONL manifest; `root` becomes the manifest's folder.
    /// - Throws: `CohortError.notFound`, or `.badManifestLine` naming the file and line.
    public static func load(path: String) throws -> CohortManifest {
        guard let data = FileManager.default.contents(atPath: path) else { throw CohortError.notFound(path: path) }
        let text = String(decoding: data, as: UTF8.self)
        var entries: [CohortEntry] = []
        let decoder = JSONDecoder()
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let t = line.trimmingCharacters(in: .whitespaces)
            if t.isEmpty { continue }
            do {
                entries.append(try decoder.decode(CohortEntry.self, from: Data(t.utf8)))
            } catch {
                throw CohortError.badManifestLine(path: path, line: n + 1, reason: Self.shortReason(error))
            }
        }
        return CohortManifest(root: (path as NSString).deletingLastPathComponent, entries: entries)
    }

    /// The JSONL text (one entry per line, keys sorted so equal manifests give equal bytes).
    public func jsonl() -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return entries.map { String(decoding: (try? enc.encode($0)) ?? Data(), as: UTF8.self) + "\n" }.joined()
    }

    /// The CSV text: id,path,label,grade,split,severity,seed,vessel_mask_path,faz_mask_path,dropout_mask_path,meta_path.
    public func csv() -> String {
        var s = "id,path,label,grade,split,severity,seed,vessel_mask_path,faz_mask_path,dropout_mask_path,meta_path\n"
        func q(_ v: String?) -> String {
            guard let v else { return "" }
            return v.contains(",") || v.contains("\"") ? "\"" + v.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : v
        }
        for e in entries {
            let sev = e.severity.map { String(format: "%.6f", $0) }
            s += [q(e.id), q(e.path), q(e.label?.rawValue), q(e.grade.map(String.init)), q(e.split?.rawValue), q(sev),
                  q(e.seed.map { String($0) }), q(e.vesselMaskPath), q(e.fazMaskPath), q(e.dropoutMaskPath),
                  q(e.metaPath)].joined(separator: ",") + "\n"
        }
        return s
    }

    /// Writes `manifest.jsonl` and `manifest.csv` into `root`.
    /// - Throws: `CohortError.io` naming the file.
    public func save() throws {
        try Self.write(jsonl(), to: resolve("manifest.jsonl"))
        try Self.write(csv(), to: resolve("manifest.csv"))
    }

    static func write(_ text: String, to path: String) throws {
        do { try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic) }
        catch { throw CohortError.io(path: path, reason: "cannot write: \(error.localizedDescription)") }
    }

    static func shortReason(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let k, _): return "missing key \"\(k.stringValue)\""
        case DecodingError.typeMismatch(_, let c): return "wrong type at \(c.codingPath.map(\.stringValue).joined(separator: "."))"
        case DecodingError.valueNotFound(_, let c): return "null at \(c.codingPath.map(\.stringValue).joined(separator: "."))"
        case DecodingError.dataCorrupted(let c):
            let p = c.codingPath.map(\.stringValue).joined(separator: ".")
            return p.isEmpty ? "not valid JSON" : "invalid value at \(p)"
        default: return "\(error)"
        }
    }
}
