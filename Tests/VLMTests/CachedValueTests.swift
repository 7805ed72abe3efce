import XCTest
@testable import VLM

/// The decoder's load-average cache: re-read at most once per time to live, and the thread override kept.
final class CachedValueTests: XCTestCase {
    func testReReadsOnlyOnceTheTimeToLiveHasPassed() {
        let cache = CachedValue<Double>(timeToLiveNanoseconds: 1_000)
        var reads = 0
        let read: () -> Double? = { reads += 1; return Double(reads) }
        XCTAssertEqual(cache.value(now: 10_000, read: read), 1)
        XCTAssertEqual(cache.value(now: 10_999, read: read), 1, "within the time to live: the cached value")
        XCTAssertEqual(reads, 1)
        XCTAssertEqual(cache.value(now: 11_000, read: read), 2, "at the time to live: read again")
        XCTAssertEqual(cache.value(now: 5_000, read: read), 3, "a clock that went back: read again, never a stale value forever")
        XCTAssertEqual(reads, 3)
    }

    func testAFailedReadIsCachedToo() {
        let cache = CachedValue<Double>(timeToLiveNanoseconds: 1_000)
        var reads = 0
        XCTAssertNil(cache.value(now: 0) { reads += 1; return nil })
        XCTAssertNil(cache.value(now: 500) { reads += 1; return 4 })
        XCTAssertEqual(reads, 1)
        XCTAssertEqual(cache.value(now: 1_000) { reads += 1; return 4 }, 4)
    }

    func testDecoderThreadsOverrideWinsOverTheLoad() {
        let outer = getenv("CAPILLARY_DECODER_THREADS").map { String(cString: $0) }
        defer { if let outer { setenv("CAPILLARY_DECODER_THREADS", outer, 1) } else { unsetenv("CAPILLARY_DECODER_THREADS") } }
        setenv("CAPILLARY_DECODER_THREADS", "1", 1)
        XCTAssertEqual(WorkerTeam.defaultDecoderParts(), 1)
        setenv("CAPILLARY_DECODER_THREADS", "64", 1)
        XCTAssertEqual(WorkerTeam.defaultDecoderParts(), WorkerTeam.parts, "capped at the team size")
    }
}
