import Foundation
import XCTest
@testable import RPC
#if canImport(Glibc)
import Glibc
#endif

typealias TestClient = RPCClient
typealias TestClientError = RPCClientError

/// Directories made by `temporarySocketPath`, removed by `removeTemporarySocketDirectories()`.
private let madeDirectories = NSLock()
private nonisolated(unsafe) var madeDirectoryPaths: [String] = []

/// A short, unique socket path in a fresh private directory (removed at the end of each test).
func temporarySocketPath(_ tag: String) -> String {
    let dir = "/tmp/capt-\(getpid())-\(tag)-\(UInt32.random(in: 0..<UInt32.max))"
    mkdir(dir, 0o700)
    madeDirectories.lock()
    madeDirectoryPaths.append(dir)
    madeDirectories.unlock()
    return dir + "/s.sock"
}

/// Deletes every directory `temporarySocketPath` made so far.
func removeTemporarySocketDirectories() {
    madeDirectories.lock()
    let dirs = madeDirectoryPaths
    madeDirectoryPaths.removeAll()
    madeDirectories.unlock()
    for d in dirs { try? FileManager.default.removeItem(atPath: d) }
}

/// Test cases that open sockets: their temporary directories go away after each test.
class SocketTestCase: XCTestCase {
    override func tearDown() {
        removeTemporarySocketDirectories()
        super.tearDown()
    }
}
