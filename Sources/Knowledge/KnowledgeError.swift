/// Why knowledge could not be derived or exported. Every case names the file or option to fix.
public enum KnowledgeError: Error, CustomStringConvertible, Equatable {
    /// A file or folder could not be written or read.
    case io(path: String, reason: String)
    /// A user option is invalid.
    case invalidOption(name: String, reason: String)
    /// A prediction's class name is not a stage or grade Knowledge can state.
    case unknownClass(name: String)

    public var description: String {
        switch self {
        case .io(let p, let r): return "\(p): \(r)"
        case .invalidOption(let n, let r): return "--\(n): \(r)"
        case .unknownClass(let n): return "class \"\(n)\" is neither a stage (healthy/npdr/pdr) nor a grade (grade0-grade4)"
        }
    }
}
