import Common
import XCTest
@testable import Retina

/// `Skeletonizer`'s fast paths (bit-rotation group table, word-skipping row scans, queue of changed pixels,
/// interior corner clean-up without bounds tests) against plain reference implementations of the same rules.
final class SkeletonizerSpeedTests: XCTestCase {
    /// The group count of every neighbourhood code against a union-find over the 8 neighbour offsets.
    func testGroupTableMatchesUnionFind() {
        let dx = [0, 1, 1, 1, 0, -1, -1, -1], dy = [-1, -1, 0, 1, 1, 1, 0, -1]
        for code in 0..<256 {
            var parent = Array(0..<8)
            func find(_ i: Int) -> Int { var i = i; while parent[i] != i { i = parent[i] }; return i }
            for i in 0..<8 where code & (1 << i) != 0 {
                for j in (i + 1)..<8 where code & (1 << j) != 0 && abs(dx[i] - dx[j]) <= 1 && abs(dy[i] - dy[j]) <= 1 {
                    parent[find(i)] = find(j)
                }
            }
            let roots = Set((0..<8).filter { code & (1 << $0) != 0 }.map(find))
            XCTAssertEqual(Int(Skeletonizer.groups[code]), roots.count, "code \(code)")
        }
        XCTAssertEqual(Skeletonizer.groups[0], 0)
        XCTAssertEqual(Skeletonizer.groups[0b0101_0101], 1)  // N, E, S, W: each edge touches the next
        XCTAssertEqual(Skeletonizer.groups[0b1010_1010], 4)  // the four corners touch none
    }

    /// Neighbour code of (x, y) in a w x h 0/1 plane, 0 outside.
    func code(_ b: [UInt8], _ w: Int, _ h: Int, _ x: Int, _ y: Int) -> Int {
        func at(_ x: Int, _ y: Int) -> Int { x < 0 || y < 0 || x >= w || y >= h ? 0 : Int(b[y * w + x]) }
        return at(x, y - 1) | at(x + 1, y - 1) << 1 | at(x + 1, y) << 2 | at(x + 1, y + 1) << 3
            | at(x, y + 1) << 4 | at(x - 1, y + 1) << 5 | at(x - 1, y) << 6 | at(x - 1, y - 1) << 7
    }

    /// Zhang-Suen by testing every live pixel in every sub-iteration, then the raster-order corner clean-up.
    func referenceThin(_ mask: [UInt8], _ w: Int, _ h: Int) -> [UInt8] {
        var b = mask.map { $0 != 0 ? UInt8(1) : 0 }
        var changed = true
        while changed {
            changed = false
            for pass in 0..<2 {
                var del: [Int] = []
                for y in 0..<h {
                    for x in 0..<w where b[y * w + x] != 0
                        && Skeletonizer.zhangSuen[code(b, w, h, x, y)] & UInt8(1 << pass) != 0 {
                        del.append(y * w + x)
                    }
                }
                if !del.isEmpty { changed = true; for i in del { b[i] = 0 } }
            }
        }
        for y in 0..<h {
            for x in 0..<w where b[y * w + x] != 0 && Skeletonizer.redundantCorner[code(b, w, h, x, y)] { b[y * w + x] = 0 }
        }
        return b
    }

    /// Random blobs and strokes (foreground values 1 and 255) on sizes that are and are not multiples of 8.
    func randomMask(_ w: Int, _ h: Int, _ rng: inout SeededGenerator) -> [UInt8] {
        var m = [UInt8](repeating: 0, count: w * h)
        for _ in 0..<(1 + w * h / 60) {
            let cx = rng.int(below: w), cy = rng.int(below: h), r = rng.int(below: 4)
            let value: UInt8 = rng.int(below: 2) == 0 ? 1 : 255
            for y in max(0, cy - r)...min(h - 1, cy + r) {
                for x in max(0, cx - r)...min(w - 1, cx + r) where (x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r + 1 {
                    m[y * w + x] = value
                }
            }
        }
        return m
    }

    func testThinMatchesReference() {
        var rng = SeededGenerator(seed: 21)
        for (w, h) in [(1, 1), (1, 7), (3, 2), (7, 5), (8, 8), (9, 13), (16, 3), (31, 29), (64, 40), (67, 71)] {
            for _ in 0..<3 {
                let m = randomMask(w, h, &rng)
                XCTAssertEqual(Skeletonizer.thin(m, width: w, height: h), referenceThin(m, w, h), "\(w)x\(h)")
            }
        }
        XCTAssertEqual(Skeletonizer.thin([], width: 0, height: 0), [])
        let full = [UInt8](repeating: 1, count: 12 * 10)
        XCTAssertEqual(Skeletonizer.thin(full, width: 12, height: 10), referenceThin(full, 12, 10))
    }

    /// The corner clean-up around listed pixels (interior fast path and the bounds-checked frame) against a
    /// bounds-checked reference, on thinned random masks with pixels removed as pruning would.
    func testCornerCleanUpMatchesReference() {
        var rng = SeededGenerator(seed: 8)
        for (w, h) in [(5, 5), (9, 13), (40, 33), (64, 64)] {
            for _ in 0..<4 {
                var sk = Skeletonizer.thin(randomMask(w, h, &rng), width: w, height: h)
                // Thickened again in places (so there are corners to remove), then a few holes.
                for _ in 0..<(w * h / 10) { sk[rng.int(below: w * h)] = 1 }
                for _ in 0..<(w * h / 30) { sk[rng.int(below: w * h)] = 0 }
                var pixels: [Int32] = (0..<(w * h / 4)).map { _ in Int32(rng.int(below: w * h)) }
                pixels += [0, Int32(w - 1), Int32(w * h - 1), Int32(w * (h - 1)), Int32(2 * w + 2)]
                var reference = sk
                for p in pixels {
                    let px = Int(p) % w, py = Int(p) / w
                    for y in max(0, py - 1)...min(h - 1, py + 1) {
                        for x in max(0, px - 1)...min(w - 1, px + 1) where reference[y * w + x] != 0
                            && Skeletonizer.redundantCorner[code(reference, w, h, x, y)] {
                            reference[y * w + x] = 0
                        }
                    }
                }
                Skeletonizer.removeRedundantCorners(&sk, width: w, height: h, around: pixels)
                XCTAssertEqual(sk, reference, "\(w)x\(h)")
                XCTAssertNotEqual(sk.reduce(0) { $0 + Int($1) }, 0)
            }
        }
    }
}
