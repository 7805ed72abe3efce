import Foundation

/// Why a VLM operation failed. Every case names the file, parameter or record at fault.
public enum VLMError: Error, Equatable, CustomStringConvertible {
    /// A configuration value is out of range or inconsistent.
    case invalidConfig(String)
    /// A file is missing or unreadable.
    case io(path: String, reason: String)
    /// A dataset record is malformed (file, record index, reason).
    case badRecord(path: String, index: Int, reason: String)
    /// A tokenizer file is malformed.
    case badTokenizer(path: String, reason: String)
    /// No model version exists in the store for that name.
    case modelNotFound(store: String, name: String)
    /// A generation or training parameter is invalid (parameter name, reason).
    case invalidOption(name: String, reason: String)

    public var description: String {
        switch self {
        case .invalidConfig(let s): return "invalid VLM config: \(s)"
        case .io(let p, let r): return "\(p): \(r)"
        case .badRecord(let p, let i, let r): return "\(p): record \(i): \(r)"
        case .badTokenizer(let p, let r): return "\(p): bad tokenizer: \(r)"
        case .modelNotFound(let s, let n): return "\(s): no model \"\(n)\" (train one with capillary train-vlm --store \(s))"
        case .invalidOption(let n, let r): return "--\(n): \(r)"
        }
    }
}
