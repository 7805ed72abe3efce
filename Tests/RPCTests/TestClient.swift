import Foundation
@testable import RPC
#if canImport(Glibc)
import Glibc
#endif

typealias TestClient = RPCClient
typealias TestClientError = RPCClientError

/// A short, unique socket path in a fresh private directory.
func temporarySocketPath(_ tag: String) -> String {
    let dir = "/tmp/capt-\(getpid())-\(tag)-\(UInt32.random(in: 0..<UInt32.max))"
    mkdir(dir, 0o700)
    return dir + "/s.sock"
}
