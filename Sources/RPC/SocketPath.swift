#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Why the server could not start (or had to stop).
public enum RPCServerError: Error, CustomStringConvertible, Equatable {
    /// The socket path does not fit in `sockaddr_un.sun_path` (no silent truncation).
    case socketPathTooLong(path: String, bytes: Int, maxBytes: Int)
    /// Another process is accepting connections on the socket.
    case socketInUse(path: String)
    /// Something that is not a socket exists at the path; it is left alone.
    case notASocket(path: String)
    /// The socket's directory could not be created or used.
    case socketDirectory(path: String, reason: String)
    /// A libuv or system call failed.
    case system(call: String, path: String, reason: String)
    /// The configuration is inconsistent.
    case badConfiguration(String)

    public var description: String {
        switch self {
        case let .socketPathTooLong(p, n, m):
            return "socket path is \(n) bytes, longer than the \(m) bytes a Unix socket address holds: \(p); choose a shorter --socket"
        case .socketInUse(let p):
            return "another daemon is already listening on \(p); stop it first or pass a different --socket"
        case .notASocket(let p):
            return "\(p) exists and is not a socket; refusing to remove it (delete it yourself or choose another --socket)"
        case let .socketDirectory(p, r): return "cannot use socket directory \(p): \(r)"
        case let .system(c, p, r): return "\(c) failed for \(p): \(r)"
        case .badConfiguration(let s): return "bad server configuration: \(s)"
        }
    }
}

/// Where the daemon's socket lives and how a path is made ready for `bind`.
public enum SocketPath {
    /// Bytes a path may have (sun_path holds 108 bytes on Linux, including the terminating NUL).
    public static let maxBytes: Int = MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1

    /// `$XDG_RUNTIME_DIR/capillary.sock`, else `/tmp/capillary-$UID/capillary.sock`.
    public static func defaultPath() -> String {
        if let x = ProcessInfo.processInfo.environment["XDG_RUNTIME_DIR"], !x.isEmpty {
            return (x.hasSuffix("/") ? x : x + "/") + "capillary.sock"
        }
        return "/tmp/capillary-\(getuid())/capillary.sock"
    }

    /// Checks `path` fits, creates its directory (mode 0700) if missing, refuses a live socket or a
    /// non-socket file, and removes a stale socket (one nobody accepts on).
    /// - Parameter requirePrivateDirectory: also refuse a directory that another user owns or that others
    ///   may write to (used for the default path: anyone can create `/tmp/capillary-$UID` first).
    /// - Returns: true if a stale socket was removed.
    /// - Throws: `RPCServerError` naming the path and what to do.
    @discardableResult
    public static func prepare(_ path: String, requirePrivateDirectory: Bool = false) throws -> Bool {
        let n = path.utf8.count
        guard n > 0 else { throw RPCServerError.badConfiguration("the socket path is empty") }
        guard n <= maxBytes else { throw RPCServerError.socketPathTooLong(path: path, bytes: n, maxBytes: maxBytes) }
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty {
            var st = stat()
            if stat(dir, &st) != 0 {
                guard errno == ENOENT else {
                    throw RPCServerError.socketDirectory(path: dir, reason: String(cString: strerror(errno)))
                }
                // Private to the user: other users must not reach the daemon.
                if mkdir(dir, 0o700) != 0 && errno != EEXIST {
                    throw RPCServerError.socketDirectory(path: dir, reason: String(cString: strerror(errno)))
                }
            } else if (st.st_mode & S_IFMT) != S_IFDIR {
                throw RPCServerError.socketDirectory(path: dir, reason: "not a directory")
            } else if requirePrivateDirectory && (st.st_uid != getuid() || (st.st_mode & 0o022) != 0) {
                throw RPCServerError.socketDirectory(
                    path: dir, reason: "it must belong to you (uid \(getuid()), it has \(st.st_uid)) and not be writable by others "
                        + "(mode \(String(st.st_mode & 0o777, radix: 8))); remove it or pass --socket")
            }
        }
        var st = stat()
        guard lstat(path, &st) == 0 else { return false }  // nothing there
        guard (st.st_mode & S_IFMT) == S_IFSOCK else { throw RPCServerError.notASocket(path: path) }
        if try isLive(path) { throw RPCServerError.socketInUse(path: path) }
        guard unlink(path) == 0 || errno == ENOENT else {
            throw RPCServerError.system(call: "unlink (stale socket)", path: path, reason: String(cString: strerror(errno)))
        }
        return true
    }

    /// True if a process accepts connections on the socket at `path` (a connect succeeds).
    public static func isLive(_ path: String) throws -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RPCServerError.system(call: "socket", path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            let u = Array(path.utf8)
            raw.copyBytes(from: u.prefix(raw.count - 1))
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if rc == 0 { return true }
        switch errno {
        case ECONNREFUSED, ENOENT: return false
        default:
            throw RPCServerError.system(call: "connect (liveness check)", path: path, reason: String(cString: strerror(errno)))
        }
    }
}
