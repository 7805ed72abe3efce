import Foundation
import GraphNet
@testable import Knowledge
import Retina
import VesselGraph
import XCTest

/// Knowledge on graphs the real pipeline built from simulated eyes (simulator -> VesselGraph), with healthy
/// references fitted the way GraphNet's training fits them.
final class PipelineTests: XCTestCase {
    static let graphs: (healthy: [OCTAGraph], pdr: [OCTAGraph]) = {
        let sim = OCTASimulator(config: SimulatorConfig(sizePX: 304, fovMM: 3))
        let builder = VesselGraphBuilder()
        func g(_ seed: UInt64, _ s: Double) -> OCTAGraph { try! builder.build(sim.generate(seed: seed, severity: s).image) }
        return ((0..<6).map { g(900 + UInt64($0), 0.05 + 0.03 * Double($0)) }, [g(950, 0.92), g(951, 0.97)])
    }()

    func testRealGraphsGiveMeasuredTextThatParsesBack() throws {
        let refs = BiomarkerReference.fit(healthyGraphs: Self.graphs.healthy)
        XCTAssertTrue(refs.contains { $0.name == "faz_area_mm2" && $0.count == 6 })
        let b = KnowledgeBuilder(references: refs, classNames: Fixtures.classNames, seed: 11)
        for (i, g) in (Self.graphs.pdr + Self.graphs.healthy).enumerated() {
            let k = try b.knowledge(id: "eye_\(i)", imagePath: "/e.png", split: nil, label: nil, graph: g,
                                    prediction: Fixtures.prediction("pdr", [0.1, 0.2, 0.7]), evidence: nil, evidenceSource: "none")
            for (turn, stated) in zip(k.turns, KnowledgeText.statedFindings(k.findings)) {
                XCTAssertEqual(FactParser().parse(turn.answer), Set(stated.map(\.fact)), turn.answer)
            }
            for f in k.findings { if let m = f.measurement { XCTAssertTrue(k.turns[4].answer.contains(m.text), m.text) } }
            XCTAssertTrue(k.findings.allSatisfy { $0.attributionShare == nil })
            if i < Self.graphs.pdr.count {
                // Severe simulated disease deviates from six healthy eyes somewhere.
                XCTAssertTrue(k.findings.contains { $0.direction.isAbnormal && $0.topic != .diagnosis }, k.turns[4].answer)
            }
        }
    }
}
