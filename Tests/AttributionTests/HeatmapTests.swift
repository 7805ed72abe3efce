import Foundation
import GraphNet
import Retina
import VesselGraph
import XCTest
@testable import Attribution

final class HeatmapTests: XCTestCase {
    func testScoresArePaintedOnFootprintsAndTheRestStaysGrey() throws {
        let eye = OCTASimulator(config: SimulatorConfig(sizePX: 160, fovMM: 2.5)).generate(seed: 12, severity: 0.6)
        let graph = try VesselGraphBuilder().build(eye.image)
        XCTAssertGreaterThan(graph.vessel.count, 5)
        let model = try Fixtures.model([graph], hidden: 8)
        var o = IntegratedGradientsOptions()
        o.steps = 8
        let a = try IntegratedGradients(model: model).attribute(graph, options: o)
        var ho = HeatmapOptions()
        ho.scale = 1; ho.legend = false; ho.topK = 0
        let pic = try AttributionHeatmap.render(image: eye.image, graph: graph, attribution: a, options: ho)
        XCTAssertEqual(pic.width, 160); XCTAssertEqual(pic.height, 160)
        func isGrey(_ p: Int) -> Bool { pic.rgb[3 * p] == pic.rgb[3 * p + 1] && pic.rgb[3 * p + 1] == pic.rgb[3 * p + 2] }
        func redder(_ p: Int) -> Bool { pic.rgb[3 * p] > pic.rgb[3 * p + 2] }
        // The strongest node's footprint is tinted with its sign's colour everywhere.
        let top = a.rankedNodes()[0]
        let t = NodeType(name: top.nodeType)!
        let fp = t.nodes(of: graph).footprints[top.index].map(Int.init)
        XCTAssertFalse(fp.isEmpty)
        let strongest = fp.filter { !isGrey($0) && redder($0) == (top.score > 0) }.count
        XCTAssertEqual(strongest, fp.count, "every pixel of \(top.nodeType) \(top.index) coloured for score \(top.score)")
        // Pixels in no footprint stay exactly grey (no outlines or labels with topK 0).
        var covered = [Bool](repeating: false, count: 160 * 160)
        for t in NodeType.allCases { for f in t.nodes(of: graph).footprints { for p in f { covered[Int(p)] = true } } }
        XCTAssertEqual((0..<(160 * 160)).filter { !covered[$0] && !isGrey($0) }.count, 0)
        // Coloured pixels exist only where footprints are, and a clear majority of scored footprint pixels is coloured.
        XCTAssertGreaterThan((0..<(160 * 160)).filter { covered[$0] && !isGrey($0) }.count, 100)

        // Outlines and the legend: the picture grows a panel, outline pixels are yellow.
        ho.topK = 3; ho.legend = true; ho.scale = 2
        let full = try AttributionHeatmap.render(image: eye.image, graph: graph, attribution: a, options: ho)
        XCTAssertGreaterThan(full.width, 320)
        let yellow = stride(from: 0, to: full.rgb.count, by: 3).filter { full.rgb[$0] == 255 && full.rgb[$0 + 1] == 225 && full.rgb[$0 + 2] == 0 }.count
        XCTAssertGreaterThan(yellow, 20)
        XCTAssertNoThrow(try ImageIO.pngData(full))
    }

    func testGraphsWithoutFootprintsAreRefused() throws {
        let g = Fixtures.graph(seed: 3)
        let model = try Fixtures.model([g])
        var o = IntegratedGradientsOptions()
        o.steps = 4
        let a = try IntegratedGradients(model: model).attribute(g, options: o)
        let image = GrayImage(width: g.widthPX, height: g.heightPX, pixelSizeMM: g.pixelSizeMM)
        XCTAssertThrowsError(try AttributionHeatmap.render(image: image, graph: g, attribution: a)) {
            guard case AttributionError.cannotDraw(let reason) = $0 else { return XCTFail("\($0)") }
            XCTAssertTrue(reason.contains("footprints"), reason)
        }
    }

    func testOuterRingSkipsHoles() {
        // A 5x5 square with a hole at its centre, in a 9x9 image: the ring is the 7x7 border around it only.
        let w = 9
        var fp: [Int] = []
        for y in 2...6 { for x in 2...6 where !(x == 4 && y == 4) { fp.append(y * w + x) } }
        let ring = AttributionHeatmap.outerRing(fp, width: w, height: w)
        XCTAssertEqual(ring.count, 24)
        XCTAssertFalse(ring.contains(4 * w + 4))
    }
}
