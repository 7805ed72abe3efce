import Foundation
@testable import GraphNet
import Retina
import VesselGraph
import XCTest

final class CohortGraphTests: XCTestCase {
    /// Graphs of a generated cohort are cached by content: a second load decodes the cache and gives the
    /// same graphs; a changed image gets a new key; the baselines' image loader reads the same files.
    func testCohortGraphsAreCachedByContent() throws {
        let dir = TestGraphs.tempFolder()
        let manifest = try CohortGenerator(config: SimulatorConfig(sizePX: 96, fovMM: 2)).write(count: 4, seed: 5, mix: .standard, to: dir)
        let loader = CohortGraphLoader()
        let first = try loader.load(manifest, scheme: .stage)
        XCTAssertEqual(first.count, 4)
        XCTAssertEqual(first.map(\.label), manifest.entries.map { $0.label?.index })
        let cached = try FileManager.default.contentsOfDirectory(atPath: dir + "/graph-cache")
        XCTAssertEqual(cached.filter { $0.hasSuffix(".graph") }.count, 4)
        let second = try loader.load(try CohortGraphLoader.manifest(at: dir), scheme: .stage)
        for (a, b) in zip(first, second) {
            XCTAssertEqual(a.contentHash, b.contentHash)
            XCTAssertEqual(a.graph.vessel.features, b.graph.vessel.features)
            XCTAssertEqual(a.graph.relations.map(\.source), b.graph.relations.map(\.source))
            XCTAssertEqual(a.graph.biomarkers.keys.sorted(), b.graph.biomarkers.keys.sorted())
        }
        // A different builder configuration is a different key.
        var other = VesselGraphConfig(); other.noiseSigmaUM = 9
        let third = try CohortGraphLoader(builderConfig: other).load(manifest, scheme: .stage)
        XCTAssertNotEqual(third[0].contentHash, first[0].contentHash)
        XCTAssertEqual(CohortGraphLoader.fingerprint(first), CohortGraphLoader.fingerprint(second))
        // An unreadable image is a typed error naming it.
        var broken = manifest
        broken.entries[0].path = "images/missing.png"
        XCTAssertThrowsError(try loader.load(broken, scheme: .stage)) { e in
            guard case CohortError.badImage(let p, _) = e else { return XCTFail("\(e)") }
            XCTAssertTrue(p.hasSuffix("missing.png"))
        }
    }
}

final class GraphCacheCodecTests: XCTestCase {
    func testBinaryCacheRoundTripsExactlyAndRejectsTruncation() {
        var g = TestGraphs.tiny(seed: 900)
        g.biomarkers["faz_area_mm2"] = 0.123456789012345
        g.vessel.xMM[0] = 1.0 / 3
        let data = GraphCacheCodec.encode(g)
        XCTAssertEqual(GraphCacheCodec.decode(data), g)
        XCTAssertNil(GraphCacheCodec.decode(data.prefix(data.count - 3)))
        XCTAssertNil(GraphCacheCodec.decode(Data("not a graph".utf8)))
    }
}
