import Foundation

/// Why a GraphNet operation failed. Every case names the file, model or option involved, so the message
/// alone tells a user what to fix.
public enum GraphNetError: Error, CustomStringConvertible, Equatable {
    /// A graph's node set does not have the feature columns the model was trained on.
    case featureMismatch(nodeType: String, expected: [String], found: [String])
    /// A stored model is missing, or its folder lacks a file.
    case modelNotFound(path: String)
    /// A stored model's config.json (or metrics.json) cannot be decoded.
    case badConfig(path: String, reason: String)
    /// A stored model is of another kind (e.g. a VLM folder loaded as a GraphNet).
    case wrongModelKind(path: String, expected: String, found: String)
    /// The weights do not match the architecture in config.json (names or shapes), or are unreadable.
    case badWeights(path: String, reason: String)
    /// Writing the store failed.
    case io(path: String, reason: String)
    /// A user option is invalid.
    case invalidOption(name: String, reason: String)
    /// The cohort cannot be used for training or evaluation (no labels, an empty split, ...).
    case badCohort(path: String, reason: String)

    public var description: String {
        switch self {
        case .featureMismatch(let t, let e, let f):
            return "\(t) node features do not match the model: expected \(e), found \(f) (graph built by another VesselGraph version?)"
        case .modelNotFound(let p): return "\(p): no stored model here (train one with `capillary train-gnn --store ...`)"
        case .badConfig(let p, let r): return "\(p): unreadable model config: \(r)"
        case .wrongModelKind(let p, let e, let f): return "\(p): model kind is \"\(f)\", expected \"\(e)\""
        case .badWeights(let p, let r): return "\(p): weights do not fit the model: \(r)"
        case .io(let p, let r): return "\(p): \(r)"
        case .invalidOption(let n, let r): return "--\(n): \(r)"
        case .badCohort(let p, let r): return "\(p): \(r)"
        }
    }
}
