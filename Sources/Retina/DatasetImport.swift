import Foundation

/// The outcome of importing a dataset: what could be read, and every file that could not (with why).
public struct DatasetImportReport: Sendable {
    /// Readable, labelled (where labels exist) images; paths relative to `manifest.root`.
    public var manifest: CohortManifest
    /// Files or rows that were skipped, each naming the file (and line) and the problem.
    public var failures: [CohortError]
}

/// Imports real OCTA datasets: a folder plus a DRAC-style labels CSV (`image name,DR grade` with 0/1/2),
/// a Capillary manifest JSONL, or a bare folder of PNG/BMP images (unlabelled).
///
/// Every listed image is decoded once to check it; a bad file is reported in `failures` and skipped, the
/// rest is imported. Only a missing dataset or an unreadable labels file/manifest stops the import.
public enum DatasetImport {
    /// Image extensions picked up from bare folders.
    public static let imageExtensions: Set<String> = ["png", "bmp"]

    /// Imports `path` (a folder, or a `.jsonl` manifest).
    /// - Parameters:
    ///   - labelsCSV: DRAC-style labels; when nil, a folder's single `*.csv` with an "image name" column is
    ///     used if present, else its `manifest.jsonl`, else all images unlabelled.
    ///   - fovMM: field of view for every image; nil -> from the width (`FieldOfView.defaultMM`).
    /// - Throws: `CohortError.notFound` for a missing dataset/labels file, `.badManifestLine` for a broken
    ///   manifest, `.badLabelRow` when the CSV header lacks the image/grade columns.
    public static func load(path: String, labelsCSV: String? = nil, fovMM: Double? = nil) throws -> DatasetImportReport {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: path, isDirectory: &isDir) else { throw CohortError.notFound(path: path) }
        if !isDir.boolValue {
            return validate(try CohortManifest.load(path: path), fovMM: fovMM, failures: [])
        }
        if let csv = labelsCSV {
            guard fm.fileExists(atPath: csv) else { throw CohortError.notFound(path: csv) }
            return try importLabelled(folder: path, csv: csv, fovMM: fovMM)
        }
        let names = ((try? fm.contentsOfDirectory(atPath: path)) ?? []).sorted()
        let csvs = names.filter { $0.lowercased().hasSuffix(".csv") && $0 != "manifest.csv" }
        for c in csvs {
            let full = (path as NSString).appendingPathComponent(c)
            if let head = try? String(contentsOfFile: full, encoding: .utf8).split(separator: "\n").first,
               head.lowercased().contains("image") {
                return try importLabelled(folder: path, csv: full, fovMM: fovMM)
            }
        }
        if names.contains("manifest.jsonl") {
            let m = try CohortManifest.load(path: (path as NSString).appendingPathComponent("manifest.jsonl"))
            return validate(m, fovMM: fovMM, failures: [])
        }
        var entries: [CohortEntry] = []
        for n in names where imageExtensions.contains((n as NSString).pathExtension.lowercased()) {
            entries.append(CohortEntry(id: (n as NSString).deletingPathExtension, path: n))
        }
        return validate(CohortManifest(root: path, entries: entries), fovMM: fovMM, failures: [])
    }

    /// Folder + labels CSV. Columns are found by header name ("image name"/"image", "dr grade"/"grade"/
    /// "label"); grades 0/1/2 map to healthy/NPDR/PDR. A row with a bad grade or a missing image is
    /// reported and skipped.
    static func importLabelled(folder: String, csv: String, fovMM: Double?) throws -> DatasetImportReport {
        guard let data = FileManager.default.contents(atPath: csv) else { throw CohortError.notFound(path: csv) }
        let lines = String(decoding: data, as: UTF8.self).replacingOccurrences(of: "\r", with: "")
            .split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let header = lines.first else { throw CohortError.badLabelRow(path: csv, line: 1, reason: "empty file") }
        let cols = header.split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard let imageCol = cols.firstIndex(where: { $0 == "image name" || $0 == "image" || $0 == "image_name" }),
              let gradeCol = cols.firstIndex(where: { $0 == "dr grade" || $0 == "grade" || $0 == "label" || $0 == "dr_grade" })
        else {
            throw CohortError.badLabelRow(path: csv, line: 1, reason: "header needs an \"image name\" and a \"DR grade\" column, got \"\(header)\"")
        }
        var failures: [CohortError] = []
        var entries: [CohortEntry] = []
        var seen = Set<String>()
        for (i, line) in lines.enumerated().dropFirst() {
            if line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard f.count > max(imageCol, gradeCol) else {
                failures.append(.badLabelRow(path: csv, line: i + 1, reason: "expected \(cols.count) fields, got \(f.count)"))
                continue
            }
            let name = f[imageCol]
            guard let g = Int(f[gradeCol]), let stage = DRStage(index: g) else {
                failures.append(.badLabelRow(path: csv, line: i + 1, reason: "DR grade must be 0, 1 or 2, got \"\(f[gradeCol])\""))
                continue
            }
            guard let file = resolveImage(name, in: folder) else {
                failures.append(.badImage(path: (folder as NSString).appendingPathComponent(name),
                                          reason: "listed in \((csv as NSString).lastPathComponent) line \(i + 1) but not found"))
                continue
            }
            let id = (file as NSString).deletingPathExtension
            if seen.contains(id) {
                failures.append(.badLabelRow(path: csv, line: i + 1, reason: "image \(name) listed twice"))
                continue
            }
            seen.insert(id)
            entries.append(CohortEntry(id: id, path: file, label: stage))
        }
        return validate(CohortManifest(root: folder, entries: entries), fovMM: fovMM, failures: failures)
    }

    /// The file name in `folder` for `name` (as given, or with .png / .bmp appended).
    static func resolveImage(_ name: String, in folder: String) -> String? {
        let fm = FileManager.default
        for candidate in [name, name + ".png", name + ".bmp", name + ".PNG", name + ".BMP"] {
            var d: ObjCBool = false
            if fm.fileExists(atPath: (folder as NSString).appendingPathComponent(candidate), isDirectory: &d), !d.boolValue {
                return candidate
            }
        }
        return nil
    }

    /// Decodes every entry's image; unreadable ones move to the failures. Sets `fovMM` where unknown.
    static func validate(_ manifest: CohortManifest, fovMM: Double?, failures: [CohortError]) -> DatasetImportReport {
        var ok: [CohortEntry] = []
        var bad = failures
        for var e in manifest.entries {
            let full = manifest.resolve(e.path)
            do {
                let img = try ImageIO.read(path: full)
                if e.fovMM == nil || fovMM != nil { e.fovMM = fovMM ?? FieldOfView.defaultMM(widthPX: img.width) }
                ok.append(e)
            } catch let err as ImageIOError {
                bad.append(.badImage(path: full, reason: Self.reason(err)))
            } catch {
                bad.append(.badImage(path: full, reason: "\(error)"))
            }
        }
        return DatasetImportReport(manifest: CohortManifest(root: manifest.root, entries: ok), failures: bad)
    }

    private static func reason(_ e: ImageIOError) -> String {
        // ImageIOError's description already starts with the path; keep only the problem.
        let d = e.description
        if let r = d.range(of: ": ") { return String(d[r.upperBound...]) }
        return d
    }
}
