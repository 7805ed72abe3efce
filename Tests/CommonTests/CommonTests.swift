import XCTest
import Common

final class SeededGeneratorTests: XCTestCase {
    func testSameSeedSameStreamDifferentSeedDifferentStream() {
        var a = SeededGenerator(seed: 42), b = SeededGenerator(seed: 42), c = SeededGenerator(seed: 43)
        let xa = (0..<100).map { _ in a.next() }
        XCTAssertEqual(xa, (0..<100).map { _ in b.next() })
        XCTAssertNotEqual(xa, (0..<100).map { _ in c.next() })
    }

    func testKnownFirstValuesPinTheAlgorithm() {
        // Pinned so that a change to the generator (which would silently change every cohort) fails loudly.
        // Values from an independent Python transcription of SplitMix64 + xoshiro256** (seed 0).
        var g = SeededGenerator(seed: 0)
        XCTAssertEqual((0..<3).map { _ in g.next() },
                       [11_091_344_671_253_066_420, 13_793_997_310_169_335_082, 1_900_383_378_846_508_768])
    }

    func testStreamsAreIndependentOfEachOther() {
        var s0 = SeededGenerator(seed: 7, stream: 0), s1 = SeededGenerator(seed: 7, stream: 1)
        XCTAssertNotEqual(s0.next(), s1.next())
    }

    func testUniformAndNormalMoments() {
        var g = SeededGenerator(seed: 1)
        let n = 200_000
        var su = 0.0, sn = 0.0, sn2 = 0.0
        for _ in 0..<n {
            let u = g.uniform(); XCTAssert(u >= 0 && u < 1)
            su += u
            let z = g.normal(); sn += z; sn2 += z * z
        }
        XCTAssertEqual(su / Double(n), 0.5, accuracy: 0.005)
        XCTAssertEqual(sn / Double(n), 0, accuracy: 0.01)
        XCTAssertEqual(sn2 / Double(n), 1, accuracy: 0.02)
        var counts = [Int](repeating: 0, count: 7)
        for _ in 0..<70_000 { counts[g.int(below: 7)] += 1 }
        for c in counts { XCTAssertEqual(Double(c), 10_000, accuracy: 500) }
    }
}

final class ParallelForTests: XCTestCase {
    func testCoversEveryIndexExactlyOnce() {
        for count in [0, 1, 5, 1023, 1024, 4097, 100_000] {
            var hits = [Int](repeating: 0, count: count)
            hits.withUnsafeMutableBufferPointer { h in
                let p = h
                Parallel.forEach(count, minChunk: 16) { r in for i in r { p[i] += 1 } }
            }
            XCTAssertEqual(hits.filter { $0 != 1 }.count, 0, "count \(count)")
        }
    }
}
