#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Leveled log lines to stderr (`2026-11-28T23:59:12.345Z capillaryd WARN message`), safe from any thread.
public final class Logger: @unchecked Sendable {
    /// Severity, lowest first; lines below the logger's level are dropped.
    public enum Level: Int, Comparable, CaseIterable, Sendable {
        case debug, info, warn, error

        /// The level named `name` ("debug", "info", "warn"/"warning", "error"), or nil.
        public init?(name: String) {
            switch name.lowercased() {
            case "debug": self = .debug
            case "info": self = .info
            case "warn", "warning": self = .warn
            case "error": self = .error
            default: return nil
            }
        }

        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }

        var label: String { ["DEBUG", "INFO", "WARN", "ERROR"][rawValue] }
    }

    /// Lines below this level are dropped.
    public let level: Level
    private let tag: String
    private let lock = NSLock()

    /// A logger writing lines at or above `level`, each tagged with `tag` (the program name).
    public init(level: Level = .info, tag: String = "capillaryd") {
        self.level = level
        self.tag = tag
    }

    /// True when `level` lines are written (use to skip building expensive messages).
    public func enabled(_ l: Level) -> Bool { l >= level }

    /// Writes `message` at `l` if enabled.
    public func log(_ l: Level, _ message: @autoclosure () -> String) {
        guard l >= level else { return }
        var tv = timeval()
        gettimeofday(&tv, nil)
        var t = time_t(tv.tv_sec)
        var tmv = tm()
        gmtime_r(&t, &tmv)
        let stamp = String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(tmv.tm_year) + 1900, Int(tmv.tm_mon) + 1,
                           Int(tmv.tm_mday), Int(tmv.tm_hour), Int(tmv.tm_min), Int(tmv.tm_sec), Int(tv.tv_usec / 1000))
        let line = "\(stamp) \(tag) \(l.label) \(message())\n"
        lock.lock()
        fputs(line, stderr)
        lock.unlock()
    }

    /// A debug line (per-request detail).
    public func debug(_ m: @autoclosure () -> String) { log(.debug, m()) }
    /// An info line (start, stop, notable events).
    public func info(_ m: @autoclosure () -> String) { log(.info, m()) }
    /// A warning (a client misbehaved, a limit was hit).
    public func warn(_ m: @autoclosure () -> String) { log(.warn, m()) }
    /// An error (the server cannot do what was asked).
    public func error(_ m: @autoclosure () -> String) { log(.error, m()) }
}
