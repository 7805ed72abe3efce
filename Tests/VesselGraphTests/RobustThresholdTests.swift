import XCTest
@testable import VesselGraph

/// The large-vessel-robust threshold variants (`OtsuThreshold.winsorizedThreshold`,
/// `lowerThreeClassThreshold`) on a known three-level population: background, a dim capillary class and a few
/// very bright large-vessel pixels.
final class RobustThresholdTests: XCTestCase {
    /// 80% background at 0.1, 15% capillaries at 0.3, 5% large vessels at `large`.
    private func population(large: Float) -> [Float] {
        [Float](repeating: 0.1, count: 800) + [Float](repeating: 0.3, count: 150) + [Float](repeating: large, count: 50)
    }

    func testPlainOtsuLosesTheCapillariesWhenLargeVesselsAreBright() {
        // Between-class variance: {0.1}|{0.3, 3} gives 0.1225, {0.1, 0.3}|{3} gives 0.391, so Otsu splits the
        // large vessels from everything else and the capillaries fall below the level.
        XCTAssertGreaterThan(OtsuThreshold.threshold(population(large: 3)), 0.3)
    }

    func testWinsorizedOtsuKeepsTheCapillariesWhateverTheLargeVesselBrightness() {
        var levels: [Float] = []
        for large: Float in [0.9, 1.5, 3, 10] {
            // Clipped at the 90% quantile (inside the capillary class) the population is {0.1, 0.3}.
            let t = OtsuThreshold.winsorizedThreshold(population(large: large), upperQuantile: 0.9)
            XCTAssertGreaterThan(t, 0.1)
            XCTAssertLessThan(t, 0.3)
            levels.append(t)
        }
        // The level does not move with the large vessels' brightness (only by the quantile's bin resolution:
        // large pixels are clipped to the upper edge of the 4096-bin quantile bin that holds 0.3).
        for t in levels { XCTAssertEqual(t, levels[0], accuracy: 1e-3) }
        // q = 1 is plain Otsu.
        let v = population(large: 3)
        XCTAssertEqual(OtsuThreshold.winsorizedThreshold(v, upperQuantile: 1), OtsuThreshold.threshold(v))
    }

    func testThreeClassLowerLevelSeparatesCapillariesFromBackground() {
        for large: Float in [1.5, 3, 10] {
            let t = OtsuThreshold.lowerThreeClassThreshold(population(large: large))
            XCTAssertGreaterThan(t, 0.1)
            XCTAssertLessThan(t, 0.3)
        }
    }

    func testQuantileOfARampAndDegenerateInputs() {
        let ramp = (0..<1000).map { Float($0) }
        // Histogram quantile: exact to one bin of 999 / 4096.
        XCTAssertEqual(OtsuThreshold.quantile(ramp, 0.5), 499.5, accuracy: 1)
        XCTAssertEqual(OtsuThreshold.quantile(ramp, 0.9), 899.5, accuracy: 1)
        XCTAssertEqual(OtsuThreshold.quantile([Float](repeating: 0.4, count: 10), 0.5), 0.4)
        XCTAssertEqual(OtsuThreshold.lowerThreeClassThreshold([Float](repeating: 0.4, count: 10)), 0.4)
        XCTAssertEqual(OtsuThreshold.winsorizedThreshold([], upperQuantile: 0.9), 0)
    }

    func testDefaultConfigurationKeepsPlainOtsuAndNewKeysDecode() throws {
        let d = VesselGraphConfig()
        XCTAssertEqual(d.thresholdUpperQuantile, 1)
        XCTAssertFalse(d.thresholdThreeClass)
        XCTAssertEqual(d.thresholdNoiseMultiple, 0)
        let json = #"{"thresholdUpperQuantile": 0.95, "thresholdThreeClass": true, "thresholdNoiseMultiple": 0.7}"#
        let c = try JSONDecoder().decode(VesselGraphConfig.self, from: Data(json.utf8))
        XCTAssertEqual(c.thresholdUpperQuantile, 0.95)
        XCTAssertTrue(c.thresholdThreeClass)
        XCTAssertEqual(c.thresholdNoiseMultiple, 0.7)
        // Round trip through the encoder keeps them.
        let back = try JSONDecoder().decode(VesselGraphConfig.self, from: JSONEncoder().encode(c))
        XCTAssertEqual(back, c)
    }
}
