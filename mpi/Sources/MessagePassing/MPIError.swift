/// Errors of the MPI wrapper. Every MPI call returns its error code (the communicator's error handler is
/// MPI_ERRORS_RETURN), and the wrapper turns a failure into one of these.
public enum MPIError: Error, CustomStringConvertible, Equatable {
    /// An MPI function returned `code`; `message` is MPI_Error_string's text.
    case call(function: String, code: Int32, message: String)
    /// A collective was given buffers that cannot agree across ranks (e.g. a root outside 0..<size).
    case invalidArgument(function: String, reason: String)
    /// The communicator was used after `finalize()`.
    case finalized

    public var description: String {
        switch self {
        case .call(let f, let code, let message):
            return "MPI: \(f) failed with error \(code): \(message) (a rank may have died; see mpirun's message)"
        case .invalidArgument(let f, let reason): return "MPI: \(f): \(reason)"
        case .finalized: return "MPI: the communicator was used after MPI_Finalize"
        }
    }
}
