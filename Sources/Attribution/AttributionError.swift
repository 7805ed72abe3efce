/// Why an attribution could not be computed or written. Every case says what to change.
public enum AttributionError: Error, Equatable, CustomStringConvertible {
    /// An option is out of range (`name` is the option, as spelled in the CLI).
    case invalidOption(name: String, reason: String)
    /// A user-given baseline does not fit the graph (wrong width or node count).
    case badBaseline(reason: String)
    /// The graph has nothing the target logit depends on (no nodes, and globals/edges not attributed).
    case nothingToAttribute(reason: String)
    /// A gradient or logit came out NaN or infinite (a broken model or input).
    case nonFinite(what: String)
    /// The graph cannot be drawn (no node footprints, or it belongs to an image of another size).
    case cannotDraw(reason: String)
    /// A file could not be read or written.
    case io(path: String, reason: String)
    /// A cohort lacks what the evaluation needs (ground truth, masks, labelled test images).
    case badCohort(path: String, reason: String)

    public var description: String {
        switch self {
        case .invalidOption(let n, let r): return "invalid option --\(n): \(r)"
        case .badBaseline(let r): return "baseline does not fit the graph: \(r)"
        case .nothingToAttribute(let r): return "nothing to attribute: \(r)"
        case .nonFinite(let w): return "non-finite value in \(w); check the model weights and the input graph"
        case .cannotDraw(let r): return "cannot draw the heatmap: \(r)"
        case .io(let p, let r): return "\(p): \(r)"
        case .badCohort(let p, let r): return "cohort \(p): \(r)"
        }
    }
}
