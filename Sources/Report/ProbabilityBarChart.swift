import Foundation

/// Horizontal bars of class probabilities (0...1): one row per class with its name, a bar whose length is
/// the probability and the value printed after it; the most probable class is drawn in a stronger colour.
public struct ProbabilityBarChart: Sendable {
    /// (class name, probability) in display order.
    public var bars: [(label: String, value: Double)]
    /// Length of a bar of probability 1, px.
    public var barLength: Int
    /// Bar thickness, px.
    public var barHeight: Int

    /// A chart of `bars`; values are clamped to [0, 1] when drawn (non-finite values draw no bar).
    public init(bars: [(label: String, value: Double)], barLength: Int = 240, barHeight: Int = 22) {
        self.bars = bars; self.barLength = barLength; self.barHeight = barHeight
    }

    static let scale = 2
    public static let strong = ChartColor(31, 119, 180)
    public static let weak = ChartColor(158, 202, 225)

    /// Left edge of the bars, px.
    public var barLeft: Int { 10 + (bars.map { BitmapFont.width(of: $0.label, scale: Self.scale) }.max() ?? 0) + 10 }
    /// Top edge of bar `i`, px.
    public func barTop(_ i: Int) -> Int { 8 + i * (barHeight + 8) }
    /// Drawn length of a bar of probability `p`, px.
    public func length(_ p: Double) -> Int { p.isFinite ? Int((min(1, max(0, p)) * Double(barLength)).rounded()) : 0 }

    /// Draws the chart.
    public func render() -> Canvas {
        let s = Self.scale, h = BitmapFont.height(scale: s)
        let width = barLeft + barLength + 10 + BitmapFont.width(of: "0.000", scale: s) + 10
        var c = Canvas(width: width, height: barTop(bars.count) + 4)
        let best = bars.indices.max { bars[$0].value < bars[$1].value }
        c.fill(x: barLeft + barLength, y: 4, width: 1, height: barTop(bars.count) - 6, .grid)
        for (i, b) in bars.enumerated() {
            let y = barTop(i)
            c.text(b.label, rightX: barLeft - 10, y: y + (barHeight - h) / 2 + 1, scale: s)
            c.fill(x: barLeft, y: y, width: barLength, height: barHeight, ChartColor(241, 243, 245))
            c.fill(x: barLeft, y: y, width: length(b.value), height: barHeight, i == best ? Self.strong : Self.weak)
            let v = b.value.isFinite ? String(format: "%.3f", b.value) : "n/a"
            c.text(v, x: barLeft + barLength + 10, y: y + (barHeight - h) / 2 + 1, scale: s)
        }
        c.fill(x: barLeft - 1, y: 4, width: 1, height: barTop(bars.count) - 6, .axis)
        return c
    }
}
