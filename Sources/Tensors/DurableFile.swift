import Foundation
#if canImport(Glibc)
import Glibc
private let systemWrite = Glibc.write
private let systemRename = Glibc.rename
#elseif canImport(Darwin)
import Darwin
private let systemWrite = Darwin.write
private let systemRename = Darwin.rename
#endif

/// Why a durable write failed: the file, the step, and the system's reason.
public enum DurableWriteError: Error, CustomStringConvertible, Equatable {
    /// The file system is full (ENOSPC), over quota (EDQUOT) or the file size limit was hit (EFBIG);
    /// `bytes` is the size of the file being written.
    case noSpace(path: String, bytes: Int)
    /// Any other failure of `operation` (open, write, fsync, close, rename) with the system's message.
    case failed(path: String, operation: String, reason: String)

    /// A message naming the file and what to do.
    public var description: String {
        switch self {
        case let .noSpace(p, _), let .failed(p, _, _): return "\(p): \(reason)"
        }
    }

    /// The message without the path (for errors that name the file themselves).
    public var reason: String {
        switch self {
        case let .noSpace(_, n): return "no space left on the device while writing \(n) bytes (ENOSPC); free space on that file system and retry"
        case let .failed(_, op, r): return "\(op) failed: \(r)"
        }
    }
}

/// Crash-safe file writes: the bytes go to a temporary file in the same folder, which is fsynced and then
/// renamed over the target, and the folder is fsynced so the rename itself survives a power cut. A reader
/// therefore sees either the old file or the complete new one, also after `kill -9` of the writer at any
/// instant; a failed write (e.g. a full disk) removes its temporary file and leaves the old file as it was.
public enum DurableFile {
    /// Fault-injection knob for the reliability tests (docs/RELIABILITY.md): milliseconds to sleep after a
    /// temporary file is complete and before it is renamed into place, read once from
    /// `CAPILLARY_FAULT_WRITE_DELAY_MS`. It widens the window in which a test can kill a writer mid-save;
    /// unset (the default) means no delay.
    static let faultDelayMS: Int = {
        guard let s = ProcessInfo.processInfo.environment["CAPILLARY_FAULT_WRITE_DELAY_MS"], let v = Int(s), v > 0 else { return 0 }
        return min(v, 60_000)
    }()

    /// Writes `bytes` to `path` atomically and durably (temporary file, fsync, rename, fsync of the folder).
    /// - Throws: `DurableWriteError.noSpace` when the file system is full, `.failed` for other errors
    ///   (the old file at `path`, if any, is untouched in both cases).
    public static func write(_ bytes: [UInt8], to path: String) throws {
        try bytes.withUnsafeBytes { try write(raw: $0, to: path) }
    }

    /// `write(_:to:)` for `Data`.
    public static func write(_ data: Data, to path: String) throws {
        try data.withUnsafeBytes { try write(raw: $0, to: path) }
    }

    static func write(raw: UnsafeRawBufferPointer, to path: String) throws {
        let tmp = path + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw error(errno, path: tmp, operation: "open", bytes: raw.count) }
        var ok = false
        defer { if !ok { unlink(tmp) } }
        var done = 0
        while done < raw.count {
            let n = systemWrite(fd, raw.baseAddress! + done, raw.count - done)
            if n < 0 {
                let e = errno
                if e == EINTR { continue }
                close(fd)
                throw error(e, path: tmp, operation: "write", bytes: raw.count)
            }
            done += n
        }
        // fsync reports delayed write errors (ENOSPC/EIO on some file systems surfaces only here).
        if fsync(fd) != 0 {
            let e = errno
            close(fd)
            throw error(e, path: tmp, operation: "fsync", bytes: raw.count)
        }
        if close(fd) != 0 { throw error(errno, path: tmp, operation: "close", bytes: raw.count) }
        if faultDelayMS > 0 { usleep(UInt32(faultDelayMS) * 1000) }
        guard systemRename(tmp, path) == 0 else { throw error(errno, path: path, operation: "rename", bytes: raw.count) }
        ok = true
        try syncDirectory((path as NSString).deletingLastPathComponent)
    }

    /// Renames `from` to `to` (a file or a folder; rename(2) semantics: atomic, fails if `to` is a non-empty
    /// folder) and fsyncs the destination's parent folder so the new name is on disk.
    /// - Throws: `DurableWriteError.failed` naming both paths.
    public static func rename(_ from: String, to: String) throws {
        guard systemRename(from, to) == 0 else {
            throw DurableWriteError.failed(path: to, operation: "rename from \(from)", reason: String(cString: strerror(errno)))
        }
        try syncDirectory((to as NSString).deletingLastPathComponent)
    }

    /// fsyncs a folder so that files created or renamed in it are on disk.
    /// - Throws: `DurableWriteError.failed` naming the folder.
    public static func syncDirectory(_ path: String) throws {
        let dir = path.isEmpty ? "." : path
        let fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw error(errno, path: dir, operation: "open folder", bytes: 0) }
        defer { close(fd) }
        // Some file systems do not support fsync on folders (EINVAL); their renames are as durable as they get.
        if fsync(fd) != 0 && errno != EINVAL { throw error(errno, path: dir, operation: "fsync folder", bytes: 0) }
    }

    static func error(_ code: Int32, path: String, operation: String, bytes: Int) -> DurableWriteError {
        if code == ENOSPC || code == EDQUOT || code == EFBIG { return .noSpace(path: path, bytes: bytes) }
        return .failed(path: path, operation: operation, reason: String(cString: strerror(code)))
    }
}
