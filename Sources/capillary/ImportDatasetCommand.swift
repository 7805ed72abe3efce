import ArgumentParser
import Foundation
import Retina

/// `capillary import-dataset DIR`: checks a real OCTA dataset (DRAC-style labels CSV, manifest JSONL or a
/// bare folder), reports every unreadable file, and optionally writes a Capillary manifest for it.
struct ImportDatasetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-dataset",
        abstract: "Import a real OCTA dataset (folder + DRAC labels CSV, manifest JSONL, or bare folder); bad files are reported and skipped.")

    @Argument(help: "Dataset folder, or a manifest .jsonl file.")
    var path: String

    @Option(help: "Labels CSV with 'image name,DR grade' columns (default: a *.csv in the folder that has them).")
    var labels: String?

    @Option(name: .customLong("fov-mm"), help: "Field of view of every image, mm (default from the width: 304 px -> 3, 400 px -> 6, 1024 px -> 12).")
    var fovMM: Double?

    @Flag(name: .customLong("write-manifest"), help: "Write manifest.jsonl and manifest.csv into the dataset folder.")
    var writeManifest = false

    func run() throws {
        let report = try DatasetImport.load(path: path, labelsCSV: labels, fovMM: fovMM)
        for f in report.failures { FileHandle.standardError.write("skipped: \(f)\n".data(using: .utf8)!) }
        var counts: [String] = []
        for s in DRStage.allCases { counts.append("\(s.rawValue) \(report.manifest.entries.filter { $0.label == s }.count)") }
        counts.append("unlabelled \(report.manifest.entries.filter { $0.label == nil }.count)")
        print("imported \(report.manifest.entries.count) images from \(report.manifest.root) (\(counts.joined(separator: ", "))); skipped \(report.failures.count)")
        if writeManifest {
            try report.manifest.save()
            print("wrote \(report.manifest.resolve("manifest.jsonl")) and manifest.csv")
        }
    }
}
