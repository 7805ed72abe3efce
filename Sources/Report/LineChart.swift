import Retina

/// One named polyline of a `LineChart`.
public struct LineSeries: Sendable {
    /// Legend text.
    public var name: String
    /// Points in data units, drawn in order (non-finite points break the line).
    public var points: [(x: Double, y: Double)]
    /// Line colour.
    public var color: ChartColor

    /// A series from its parts.
    public init(name: String, points: [(x: Double, y: Double)], color: ChartColor) {
        self.name = name; self.points = points; self.color = color
    }
}

/// A line chart (e.g. training curves: loss or validation metric against epoch or step): several series,
/// light grid, ticks with labels on both axes, axis titles and a legend above the plot.
public struct LineChart: Sendable {
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [LineSeries]
    /// Picture size, px.
    public var width: Int
    public var height: Int
    /// Optional fixed y range (e.g. 0...1 for accuracies); nil = from the data.
    public var yScaleOverride: AxisScale?
    /// Dashed vertical lines at these x values with a label beside their top (e.g. where a training stage
    /// starts).
    public var markers: [(x: Double, label: String)] = []

    /// A chart; sizes in px.
    public init(title: String, xLabel: String, yLabel: String, series: [LineSeries], width: Int = 560, height: Int = 360,
                yScale: AxisScale? = nil) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel; self.series = series
        self.width = width; self.height = height; self.yScaleOverride = yScale
    }

    /// Text scale (2 = 10x14 px glyphs).
    static let scale = 2
    static let small = 1

    /// The plot rectangle, px: x from `left` to `right`, y from `top` to `bottom` (inclusive edges).
    public var plotArea: (left: Int, top: Int, right: Int, bottom: Int) {
        let tickLabelWidth = (yScale.ticks.map { BitmapFont.width(of: yScale.label($0), scale: Self.scale) }.max() ?? 0)
        let left = 12 + BitmapFont.height(scale: Self.scale) + 8 + tickLabelWidth + 8
        let top = 10 + BitmapFont.height(scale: Self.scale) + 10 + legendHeight + 10
        return (left, top, width - 32, height - (8 + 2 * BitmapFont.height(scale: Self.scale) + 16))
    }

    /// Legend rows: series laid out left to right, wrapping at the chart width; each entry is a 18 px
    /// swatch, a gap and the name. Returns the top-left corner of each entry relative to the legend origin.
    var legendLayout: [(x: Int, y: Int)] {
        let s = Self.scale, rowH = BitmapFont.height(scale: s) + 6
        var out: [(Int, Int)] = [], x = 0, y = 0
        for sr in series {
            let w = 18 + 6 + BitmapFont.width(of: sr.name, scale: s) + 24
            if x > 0 && x + w > width - 80 { x = 0; y += rowH }
            out.append((x, y)); x += w
        }
        return out
    }

    var legendHeight: Int {
        guard let last = legendLayout.last else { return 0 }
        return last.y + BitmapFont.height(scale: Self.scale)
    }

    /// The x axis (covering every point's x).
    public var xScale: AxisScale { AxisScale(covering: series.flatMap { $0.points.map(\.x) }, targetTicks: 6) }
    /// The y axis (the override, or covering every point's y).
    public var yScale: AxisScale { yScaleOverride ?? AxisScale(covering: series.flatMap { $0.points.map(\.y) }, targetTicks: 5) }

    /// Pixel of the data point (x, y), rounded to the nearest pixel.
    public func pixel(x: Double, y: Double) -> (x: Int, y: Int) {
        let a = plotArea
        let px = Double(a.left) + xScale.fraction(x) * Double(a.right - a.left)
        let py = Double(a.bottom) - yScale.fraction(y) * Double(a.bottom - a.top)
        return (Int(px.rounded()), Int(py.rounded()))
    }

    /// Draws the chart.
    public func render() -> Canvas {
        var c = Canvas(width: width, height: height)
        let a = plotArea, xs = xScale, ys = yScale, s = Self.scale
        c.text(title, centerX: width / 2, y: 10, scale: s, .ink)
        for t in ys.ticks {
            let p = pixel(x: xs.lower, y: t)
            c.fill(x: a.left, y: p.y, width: a.right - a.left + 1, height: 1, .grid)
            c.fill(x: a.left - 5, y: p.y, width: 5, height: 1, .axis)
            c.text(ys.label(t), rightX: a.left - 8, y: p.y - BitmapFont.height(scale: s) / 2 + 1, scale: s, .ink)
        }
        for t in xs.ticks {
            let p = pixel(x: t, y: ys.lower)
            c.fill(x: p.x, y: a.top, width: 1, height: a.bottom - a.top + 1, .grid)
            c.fill(x: p.x, y: a.bottom + 1, width: 1, height: 5, .axis)
            c.text(xs.label(t), centerX: p.x, y: a.bottom + 8, scale: s, .ink)
        }
        c.fill(x: a.left, y: a.top, width: 1, height: a.bottom - a.top + 1, .axis)
        c.fill(x: a.left, y: a.bottom, width: a.right - a.left + 1, height: 1, .axis)
        c.text(xLabel, centerX: (a.left + a.right) / 2, y: height - BitmapFont.height(scale: s) - 6, scale: s, .ink)
        let yLabelWidth = BitmapFont.width(of: yLabel, scale: s)
        c.text(yLabel, x: 10, y: (a.top + a.bottom) / 2 + yLabelWidth / 2, scale: s, .ink, vertical: true)
        for m in markers where m.x >= xs.lower && m.x <= xs.upper {
            let px = pixel(x: m.x, y: ys.lower).x
            for y in stride(from: a.top, through: a.bottom, by: 6) { c.fill(x: px, y: y, width: 1, height: 3, .axis) }
            c.text(m.label, x: px + 4, y: a.top + 4, scale: Self.scale, .axis)
        }
        for sr in series {
            var previous: (x: Int, y: Int)?
            for p in sr.points {
                guard p.x.isFinite, p.y.isFinite else { previous = nil; continue }
                let q = pixel(x: p.x, y: p.y)
                if let prev = previous { c.line(prev.x, prev.y, q.x, q.y, sr.color, thickness: 2) }
                else { c.fill(x: q.x - 1, y: q.y - 1, width: 2, height: 2, sr.color) }
                if sr.points.count <= 40 { c.fill(x: q.x - 2, y: q.y - 2, width: 5, height: 5, sr.color) }
                previous = q
            }
        }
        drawLegend(&c, area: a)
        return c
    }

    /// Legend between the title and the plot (outside the data, so it never hides a curve): a colour
    /// swatch and the name of each series.
    func drawLegend(_ c: inout Canvas, area a: (left: Int, top: Int, right: Int, bottom: Int)) {
        let s = Self.scale, y0 = 10 + BitmapFont.height(scale: s) + 10
        for (sr, p) in zip(series, legendLayout) {
            let x = a.left + p.x, y = y0 + p.y
            c.fill(x: x, y: y + BitmapFont.height(scale: s) / 2 - 3, width: 18, height: 4, sr.color)
            c.text(sr.name, x: x + 24, y: y, scale: s, .ink)
        }
    }
}
