import Common
import XCTest
@testable import Tensors

/// `EdgeIndex.repeated` (the union of copies integrated gradients stacks) equals sorting the shifted edge
/// lists from scratch, array for array, including relations without edges and without rows.
final class EdgeIndexRepeatTests: XCTestCase {
    func assertSame(_ a: EdgeIndex, _ b: EdgeIndex, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.sourceRows, b.sourceRows, file: file, line: line); XCTAssertEqual(a.targetRows, b.targetRows, file: file, line: line)
        XCTAssertEqual(a.source, b.source, file: file, line: line); XCTAssertEqual(a.target, b.target, file: file, line: line)
        XCTAssertEqual(a.targetStart, b.targetStart, file: file, line: line); XCTAssertEqual(a.byTarget, b.byTarget, file: file, line: line)
        XCTAssertEqual(a.sourceStart, b.sourceStart, file: file, line: line); XCTAssertEqual(a.bySource, b.bySource, file: file, line: line)
        XCTAssertEqual(a.inverseInDegree, b.inverseInDegree, file: file, line: line)
    }

    func testRepeatedEqualsSortingTheShiftedEdges() {
        var gen = SeededGenerator(seed: 31)
        let cases: [(Int, Int, Int)] = [(7, 5, 23), (4, 9, 0), (0, 3, 0), (6, 1, 11)]
        for (sourceRows, targetRows, edges) in cases {
            let s = (0..<edges).map { _ in gen.int(below: sourceRows) }, t = (0..<edges).map { _ in gen.int(below: targetRows) }
            let e = EdgeIndex(source: s, target: t, sourceRows: sourceRows, targetRows: targetRows)
            for copies in [1, 3] {
                var rs: [Int] = [], rt: [Int] = []
                for c in 0..<copies { rs += s.map { $0 + c * sourceRows }; rt += t.map { $0 + c * targetRows } }
                let ref = EdgeIndex(source: rs, target: rt, sourceRows: sourceRows * copies, targetRows: targetRows * copies)
                assertSame(e.repeated(copies), ref)
                assertSame(e.reversed.repeated(copies), ref.reversed)
            }
        }
    }
}
