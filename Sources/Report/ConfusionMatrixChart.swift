/// A confusion-matrix heatmap: one cell per (truth row, predicted column) shaded from white (0) to blue
/// (the largest count), with the count printed in each cell and the class names on both axes.
public struct ConfusionMatrixChart: Sendable {
    public var title: String
    /// Row labels (truth classes).
    public var rowLabels: [String]
    /// Column labels (predicted classes; may have extra columns such as "unparsed").
    public var columnLabels: [String]
    /// counts[row][column].
    public var counts: [[Int]]
    /// Cell side, px (at least the widest column name plus a margin).
    public var cell: Int

    /// A chart of `counts` (rows = truth). Rows shorter than `columnLabels` are padded with zeros.
    public init(title: String, rowLabels: [String], columnLabels: [String], counts: [[Int]], cell: Int = 72) {
        self.title = title; self.rowLabels = rowLabels; self.columnLabels = columnLabels; self.counts = counts
        // Wide enough for every column name, so none is cut.
        let label = columnLabels.map { BitmapFont.width(of: $0, scale: Self.scale) }.max() ?? 0
        self.cell = max(cell, label + 12)
    }

    static let scale = 2
    /// Colour of the largest count.
    public static let full = ChartColor(8, 69, 148)

    /// Top-left pixel of cell (row, column).
    public func cellOrigin(row: Int, column: Int) -> (x: Int, y: Int) {
        let g = geometry
        return (g.left + column * cell, g.top + row * cell)
    }

    var geometry: (left: Int, top: Int, width: Int, height: Int) {
        let s = Self.scale, h = BitmapFont.height(scale: s)
        let rowLabelW = rowLabels.map { BitmapFont.width(of: $0, scale: s) }.max() ?? 0
        let left = 10 + h + 10 + rowLabelW + 10
        let top = 10 + h + 12 + h + 8 + h + 8
        let colLabelW = columnLabels.map { BitmapFont.width(of: $0, scale: s) }.max() ?? 0
        let gridW = max(cell * columnLabels.count, colLabelW)
        let width = max(left + gridW + 20, BitmapFont.width(of: title, scale: s) + 20)
        return (left, top, width, top + cell * rowLabels.count + 20)
    }

    /// Background colour of a cell holding `count` when the largest count is `maxCount`.
    public static func shade(_ count: Int, maxCount: Int) -> ChartColor {
        ChartColor.mix(.white, full, maxCount > 0 ? Double(count) / Double(maxCount) : 0)
    }

    /// Draws the chart.
    public func render() -> Canvas {
        let g = geometry, s = Self.scale, h = BitmapFont.height(scale: s)
        var c = Canvas(width: g.width, height: g.height)
        c.text(title, centerX: g.width / 2, y: 10, scale: s)
        let gridRight = g.left + cell * columnLabels.count
        c.text("predicted", centerX: (g.left + gridRight) / 2, y: 10 + h + 12, scale: s, .axis)
        c.text("truth", x: 10, y: g.top + cell * rowLabels.count / 2 + BitmapFont.width(of: "truth", scale: s) / 2, scale: s, .axis, vertical: true)
        let maxCount = counts.flatMap { $0 }.max() ?? 0
        for (j, name) in columnLabels.enumerated() {
            c.text(name, centerX: g.left + j * cell + cell / 2, y: g.top - h - 8, scale: s)
        }
        for (i, name) in rowLabels.enumerated() {
            c.text(name, rightX: g.left - 10, y: g.top + i * cell + (cell - h) / 2, scale: s)
            for j in 0..<columnLabels.count {
                let n = i < counts.count && j < counts[i].count ? counts[i][j] : 0
                let o = cellOrigin(row: i, column: j)
                let bg = Self.shade(n, maxCount: maxCount)
                c.fill(x: o.x, y: o.y, width: cell, height: cell, bg)
                c.stroke(x: o.x, y: o.y, width: cell, height: cell, .grid)
                let dark = maxCount > 0 && Double(n) / Double(maxCount) > 0.5
                c.text(String(n), centerX: o.x + cell / 2, y: o.y + (cell - h) / 2, scale: s, dark ? .white : .ink)
            }
        }
        return c
    }
}
