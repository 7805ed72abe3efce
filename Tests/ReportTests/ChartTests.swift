import XCTest
import Retina
@testable import Report

final class ChartTests: XCTestCase {
    func testAxisScaleChoosesNiceTicksAndLabels() {
        let a = AxisScale(covering: [0.07, 0.93])
        XCTAssertEqual(a.lower, 0); XCTAssertEqual(a.upper, 1, accuracy: 1e-12); XCTAssertEqual(a.step, 0.2, accuracy: 1e-12)
        XCTAssertEqual(a.ticks.map(a.label), ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
        let b = AxisScale(covering: [1, 37])
        XCTAssertEqual(b.step, 10); XCTAssertEqual(b.lower, 0); XCTAssertEqual(b.upper, 40)
        XCTAssertEqual(b.label(20), "20")
        let flat = AxisScale(covering: [3, 3])
        XCTAssertLessThan(flat.lower, 3); XCTAssertGreaterThan(flat.upper, 3)
        XCTAssertEqual(AxisScale(covering: []).lower, 0)
    }

    func testLineChartDrawsAKnownLineThroughItsPixels() {
        let blue = ChartColor.series[0]
        let chart = LineChart(title: "y = 2x", xLabel: "x", yLabel: "y",
                              series: [LineSeries(name: "2x", points: (0...10).map { (Double($0), 2 * Double($0)) }, color: blue)])
        let c = chart.render()
        let a = chart.plotArea
        // The axes are 0...10 and 0...20, so (0, 0) is the plot's bottom-left corner and (10, 20) its top-right.
        XCTAssertEqual(chart.xScale.lower, 0); XCTAssertEqual(chart.xScale.upper, 10)
        XCTAssertEqual(chart.yScale.lower, 0); XCTAssertEqual(chart.yScale.upper, 20)
        XCTAssertEqual(chart.pixel(x: 0, y: 0).x, a.left); XCTAssertEqual(chart.pixel(x: 0, y: 0).y, a.bottom)
        XCTAssertEqual(chart.pixel(x: 10, y: 20).x, a.right); XCTAssertEqual(chart.pixel(x: 10, y: 20).y, a.top)
        // Every point on the segments is drawn in the series colour (within one pixel)
        for i in 0...80 {
            let x = Double(i) / 10, p = chart.pixel(x: x, y: 2 * x)
            // Bresenham may step one pixel beside the rounded ideal point.
            let near = (-1...1).contains { dy in (-1...1).contains { dx in c.pixel(p.x + dx, p.y + dy) == blue } }
            XCTAssertTrue(near, "no line pixel within 1 px of x = \(x)")
        }
        // A point well off the line (y = 2x + 6) stays background or grid.
        let off = chart.pixel(x: 2, y: 10)
        XCTAssertNotEqual(c.pixel(off.x, off.y), blue)
        // The legend sits above the plot, outside the data: its 18 x 4 px swatch is the only series colour there
        // (the top point's 5 x 5 marker reaches 2 px above the plot).
        var swatch = 0
        for y in 0..<(a.top - 3) { for x in 0..<c.width where c.pixel(x, y) == blue { swatch += 1 } }
        XCTAssertEqual(swatch, 18 * 4)
    }

    func testLineBreaksAtNonFinitePoints() {
        let red = ChartColor.series[3]
        let chart = LineChart(title: "", xLabel: "", yLabel: "", series: [
            LineSeries(name: "", points: [(0, 0), (1, .nan), (2, 0), (2.0001, 10), (0, 10)], color: red)])
        let c = chart.render()
        // No segment from (0, 0) to (2, 0) because (1, nan) breaks the line.
        let mid = chart.pixel(x: 1, y: 0)
        XCTAssertNotEqual(c.pixel(mid.x, mid.y), red)
    }

    func testMarkerIsADashedVerticalLineAtItsX() {
        var chart = LineChart(title: "", xLabel: "", yLabel: "", series: [LineSeries(name: "", points: [(0, 0), (10, 1)], color: ChartColor.series[0])])
        chart.markers = [(4, "")]
        let c = chart.render(), a = chart.plotArea, px = chart.pixel(x: 4, y: 0).x
        let dashes = (a.top...a.bottom).filter { c.pixel(px, $0) == .axis }.count
        let span = a.bottom - a.top + 1
        XCTAssertGreaterThan(dashes, span / 2 - 4)   // 3 px on, 3 px off
        XCTAssertLessThan(dashes, span / 2 + 8)
    }

    func testConfusionCellsAreShadedByCountAndLabelled() {
        let chart = ConfusionMatrixChart(title: "cm", rowLabels: ["a", "b"], columnLabels: ["a", "b"], counts: [[6, 0], [3, 2]])
        let c = chart.render()
        func corner(_ r: Int, _ k: Int) -> ChartColor? { let o = chart.cellOrigin(row: r, column: k); return c.pixel(o.x + 3, o.y + 3) }
        XCTAssertEqual(corner(0, 0), ConfusionMatrixChart.full)
        XCTAssertEqual(corner(0, 1), .white)
        XCTAssertEqual(corner(1, 0), ConfusionMatrixChart.shade(3, maxCount: 6))
        XCTAssertEqual(ConfusionMatrixChart.shade(3, maxCount: 6), ChartColor.mix(.white, ConfusionMatrixChart.full, 0.5))
        // The count "6" is printed in white on the dark cell: exactly the glyph's ink at scale 2.
        let o = chart.cellOrigin(row: 0, column: 0)
        var ink = 0
        for y in o.y..<(o.y + chart.cell) { for x in (o.x + 1)..<(o.x + chart.cell - 1) where c.pixel(x, y) == .white && y > o.y && y < o.y + chart.cell - 1 { ink += 1 } }
        let glyphInk = BitmapFont.rows(of: "6").map { $0.nonzeroBitCount }.reduce(0, +) * 4
        XCTAssertEqual(ink, glyphInk)
    }

    func testProbabilityBarsAreProportional() {
        let chart = ProbabilityBarChart(bars: [("healthy", 0.5), ("npdr", 0.25), ("pdr", 0.25)], barLength: 200)
        let c = chart.render()
        func run(_ i: Int, _ color: ChartColor) -> Int {
            let y = chart.barTop(i) + 3
            return (0..<c.width).filter { c.pixel($0, y) == color }.count
        }
        XCTAssertEqual(run(0, ProbabilityBarChart.strong), 100)   // the most probable class is strong
        XCTAssertEqual(run(1, ProbabilityBarChart.weak), 50)
        XCTAssertEqual(run(2, ProbabilityBarChart.weak), 50)
        XCTAssertEqual(chart.length(1.7), 200); XCTAssertEqual(chart.length(-1), 0); XCTAssertEqual(chart.length(.nan), 0)
    }

    func testChartPNGRoundTripsThroughRetinaImageIO() throws {
        // Gray-only drawing, so Retina's gray decoder must give back exactly the bytes drawn.
        var c = Canvas(width: 37, height: 21)
        c.fill(x: 2, y: 2, width: 10, height: 5, ChartColor(128, 128, 128))
        c.text("Ok", x: 14, y: 6, scale: 1, .black)
        let png = try ImageIO.pngData(c.image)
        let bytes = [UInt8](png)
        XCTAssertEqual(Array(bytes[0..<8]), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        XCTAssertEqual(Array(bytes[12..<16]), Array("IHDR".utf8))
        XCTAssertEqual(Int(bytes[19]), 37); XCTAssertEqual(Int(bytes[23]), 21)
        XCTAssertEqual(bytes[25], 2)   // colour type 2 = RGB
        let back = try ImageIO.decode(png, name: "chart.png")
        XCTAssertEqual(back.width, 37); XCTAssertEqual(back.height, 21)
        for y in 0..<21 { for x in 0..<37 {
            XCTAssertEqual(back[x, y], Float(c.pixel(x, y)!.r) / 255, accuracy: 0.5 / 255, "(\(x), \(y))")
        } }
    }
}
