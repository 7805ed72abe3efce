import Foundation

/// `CapillaryFuzz`: libFuzzer targets for the parsers that read untrusted bytes (docs/RELIABILITY.md).
///
/// Built with `swift build -c release --sanitize=fuzzer -Xswiftc -DCAPILLARY_FUZZ` (what `make fuzz` does,
/// in its own scratch path), it is a libFuzzer binary (libFuzzer supplies `main`):
/// `CAPILLARY_FUZZ_TARGET=framing CapillaryFuzz corpus/ -max_total_time=60`. In the normal build it replays
/// inputs instead, so the seed corpus and every crash found are re-run without the fuzzer:
/// `CapillaryFuzz framing FILE_OR_FOLDER...` (exit 0 when no input breaks an invariant; a trap or an
/// invariant failure aborts after naming the input on stderr).
#if CAPILLARY_FUZZ
/// The target chosen by `CAPILLARY_FUZZ_TARGET` (read once).
let selectedTarget: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["CAPILLARY_FUZZ_TARGET"] ?? ""
    guard let t = FuzzTargets.all.first(where: { $0.name == name }) else {
        FileHandle.standardError.write(Data("CapillaryFuzz: set CAPILLARY_FUZZ_TARGET to one of \(FuzzTargets.all.map(\.name).joined(separator: ", "))\n".utf8))
        exit(2)
    }
    return t
}()

/// libFuzzer's entry for one input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    selectedTarget.run(bytes)
    return 0
}
#else
@main
struct FuzzMain {
    static func main() {
        let args = Array(CommandLine.arguments.dropFirst())
        guard let name = args.first, let target = FuzzTargets.all.first(where: { $0.name == name }), args.count >= 2 else {
            fail("usage: CapillaryFuzz \(FuzzTargets.all.map(\.name).joined(separator: "|")) FILE_OR_FOLDER...")
        }
        var count = 0
        for path in args.dropFirst() {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { fail("\(path): no such file or folder") }
            let files = isDir.boolValue
                ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { path + "/" + $0 }
                : [path]
            for f in files {
                guard let d = FileManager.default.contents(atPath: f) else { fail("\(f): cannot read") }
                FileHandle.standardError.write(Data("\(f)\n".utf8))
                target.run([UInt8](d))
                count += 1
            }
        }
        print("CapillaryFuzz \(name): \(count) inputs replayed, no invariant broken")
    }

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("CapillaryFuzz: \(message)\n".utf8))
        exit(2)
    }
}
#endif
