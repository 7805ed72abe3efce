import XCTest
@testable import Daemon
import RPC

/// `Daemon.methodNames` (what docs and clients are told the Daemon serves) must be exactly what
/// `register(on:)` registers; the protocol conformance test then checks the registry against
/// protocol/README.md and protocol/schema.
final class MethodNamesTests: XCTestCase {
    func testMethodNamesAreExactlyTheRegisteredMethods() {
        let daemon = Daemon(configuration: DaemonConfiguration(storePath: "/nonexistent-store"), loaders: [])
        let server = RPCServer(configuration: RPCServerConfiguration())
        daemon.register(on: server)
        let registered = Set(server.methodNames).subtracting(RPCServer.builtinMethods)
        XCTAssertEqual(registered, Set(Daemon.methodNames))
        XCTAssertEqual(Daemon.methodNames.count, Set(Daemon.methodNames).count, "a name listed twice")
    }
}
