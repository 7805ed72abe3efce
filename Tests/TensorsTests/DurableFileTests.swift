import Foundation
import XCTest
@testable import Tensors
#if canImport(Glibc)
import Glibc
#endif

/// DurableFile: atomic replace, no leftovers, and a typed error with the old file intact when the file
/// system refuses the bytes (a file-size limit stands in for a full disk: the same errno path, no root needed).
final class DurableFileTests: XCTestCase {
    var dir: String!

    override func setUp() {
        dir = NSTemporaryDirectory() + "capillary-durable-\(getpid())-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func testWriteReplacesTheFileAndLeavesNoTemporaryFile() throws {
        let p = dir + "/a.bin"
        try DurableFile.write([1, 2, 3], to: p)
        XCTAssertEqual(FileManager.default.contents(atPath: p).map { [UInt8]($0) }, [1, 2, 3])
        try DurableFile.write(Data([9, 8]), to: p)
        XCTAssertEqual(FileManager.default.contents(atPath: p).map { [UInt8]($0) }, [9, 8])
        try DurableFile.write([UInt8](), to: dir + "/empty")
        XCTAssertEqual(FileManager.default.contents(atPath: dir + "/empty")?.count, 0)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).sorted(), ["a.bin", "empty"])
    }

    func testMissingFolderIsATypedErrorNamingThePath() {
        XCTAssertThrowsError(try DurableFile.write([1], to: dir + "/no/such/x")) { e in
            guard case let DurableWriteError.failed(path, op, _)? = e as? DurableWriteError else { return XCTFail("\(e)") }
            XCTAssert(path.hasPrefix(dir + "/no/such/x.tmp-"), path)
            XCTAssertEqual(op, "open")
        }
    }

    /// Runs `body` with the process's file-size limit at `bytes` (SIGXFSZ ignored, so writes fail with EFBIG).
    func withFileSizeLimit(_ bytes: UInt64, _ body: () throws -> Void) rethrows {
        var old = rlimit()
        getrlimit(Int32(RLIMIT_FSIZE.rawValue), &old)
        let oldHandler = signal(SIGXFSZ, SIG_IGN)
        var lim = old
        lim.rlim_cur = rlim_t(bytes)
        setrlimit(Int32(RLIMIT_FSIZE.rawValue), &lim)
        defer {
            setrlimit(Int32(RLIMIT_FSIZE.rawValue), &old)
            signal(SIGXFSZ, oldHandler)
        }
        try body()
    }

    func testAFullFileSystemThrowsNoSpaceAndKeepsTheOldFile() throws {
        let p = dir + "/weights.safetensors"
        try DurableFile.write([UInt8](repeating: 1, count: 1000), to: p)
        try withFileSizeLimit(4096) {
            XCTAssertThrowsError(try DurableFile.write([UInt8](repeating: 2, count: 100_000), to: p)) { e in
                guard case let .noSpace(path, n)? = e as? DurableWriteError else { return XCTFail("\(e)") }
                XCTAssert(path.hasPrefix(p + ".tmp-"), path)
                XCTAssertEqual(n, 100_000)
                XCTAssert("\(e)".contains("no space left"), "\(e)")
            }
            // SafeTensors.write goes through DurableFile: its error names the target and the reason.
            let big = Tensor(uninitializedShape: [10_000])
            XCTAssertThrowsError(try SafeTensors.write([("w", big)], to: p)) { e in
                guard case let SafeTensorsError.io(path, reason)? = e as? SafeTensorsError else { return XCTFail("\(e)") }
                XCTAssertEqual(path, p)
                XCTAssert(reason.contains("no space left"), reason)
            }
        }
        XCTAssertEqual(FileManager.default.contents(atPath: p).map { [UInt8]($0) }, [UInt8](repeating: 1, count: 1000))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["weights.safetensors"], "temporary files removed")
    }
}
