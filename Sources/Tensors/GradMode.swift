#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What forward ops record on the current thread. Thread-local, so the daemon can run no-grad inference on
/// several threads at once (sharing read-only parameters) while another thread trains.
public enum GradMode: Int, Sendable {
    /// Ops record parents and backward closures when any input needs a gradient (the default).
    case enabled = 0
    /// Ops record nothing; parameters are never written (pure inference).
    case disabled = 1
    /// Parameters (`isParameter`) are treated as constants: only non-parameter leaves with `requiresGrad`
    /// (e.g. node features, edge masks) get gradients. Used by attribution so parameter `.grad` buffers,
    /// shared between threads, are never written.
    case frozenParameters = 2

    // One pthread key for the process; the value is the mode's raw value stored as a pointer bit pattern
    // (nil means `.enabled`), so reading it costs no allocation.
    private static let key: pthread_key_t = {
        var k = pthread_key_t()
        let rc = pthread_key_create(&k, nil)
        precondition(rc == 0, "GradMode: pthread_key_create failed with \(rc)")
        return k
    }()

    /// The mode of the calling thread.
    public static var current: GradMode {
        guard let p = pthread_getspecific(key) else { return .enabled }
        return GradMode(rawValue: Int(bitPattern: p)) ?? .enabled
    }

    static func set(_ mode: GradMode) {
        pthread_setspecific(key, UnsafeRawPointer(bitPattern: mode.rawValue))
    }

    /// Runs `body` with `mode` on this thread, restoring the previous mode afterwards (also on throw).
    public static func with<R>(_ mode: GradMode, _ body: () throws -> R) rethrows -> R {
        let saved = current
        set(mode)
        defer { set(saved) }
        return try body()
    }
}

extension Tensor {
    /// Runs `body` with autodiff off on this thread: ops record nothing and never touch gradients.
    public static func withoutGrad<R>(_ body: () throws -> R) rethrows -> R {
        try GradMode.with(.disabled, body)
    }

    /// Runs `body` treating parameters as constants: gradients flow only to non-parameter leaves.
    public static func withFrozenParameters<R>(_ body: () throws -> R) rethrows -> R {
        try GradMode.with(.frozenParameters, body)
    }

    /// True if ops on this thread currently record a graph.
    public static var isGradEnabled: Bool { GradMode.current != .disabled }

    /// Whether an op run now should propagate a gradient into `self` (decided at record time).
    @inline(__always)
    func tracked(_ mode: GradMode) -> Bool {
        switch mode {
        case .disabled: return false
        case .enabled: return backwardFn != nil || requiresGrad
        case .frozenParameters: return backwardFn != nil || (requiresGrad && !isParameter)
        }
    }
}
