/// Why a report cannot be built.
public enum ReportError: Error, CustomStringConvertible, Equatable {
    /// The demo output folder has no readable `cases/*.json`.
    case noCases(dir: String)
    /// A file could not be read or written.
    case io(path: String, reason: String)

    public var description: String {
        switch self {
        case .noCases(let dir):
            return "\(dir)/cases has no case files: write one JSON per test image there (scripts/demo-cases.py does it) before running capillary report"
        case .io(let path, let reason): return "\(path): \(reason)"
        }
    }
}
