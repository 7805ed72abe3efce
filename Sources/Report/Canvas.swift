import Retina

/// An sRGB colour, 8 bits per channel.
public struct ChartColor: Sendable, Equatable {
    public var r: UInt8, g: UInt8, b: UInt8
    /// A colour from its channels.
    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) { self.r = r; self.g = g; self.b = b }
    var tuple: (UInt8, UInt8, UInt8) { (r, g, b) }

    public static let white = ChartColor(255, 255, 255)
    public static let black = ChartColor(0, 0, 0)
    public static let ink = ChartColor(33, 37, 41)
    public static let grid = ChartColor(226, 230, 234)
    public static let axis = ChartColor(108, 117, 125)

    /// Ten well-separated series colours (Tableau 10), reused cyclically.
    public static let series: [ChartColor] = [
        ChartColor(31, 119, 180), ChartColor(255, 127, 14), ChartColor(44, 160, 44), ChartColor(214, 39, 40),
        ChartColor(148, 103, 189), ChartColor(140, 86, 75), ChartColor(227, 119, 194), ChartColor(127, 127, 127),
        ChartColor(188, 189, 34), ChartColor(23, 190, 207),
    ]

    /// Linear blend from `a` (t = 0) to `b` (t = 1); t is clamped to [0, 1].
    public static func mix(_ a: ChartColor, _ b: ChartColor, _ t: Double) -> ChartColor {
        let u = min(1, max(0, t))
        func ch(_ x: UInt8, _ y: UInt8) -> UInt8 { UInt8((Double(x) + (Double(y) - Double(x)) * u).rounded()) }
        return ChartColor(ch(a.r, b.r), ch(a.g, b.g), ch(a.b, b.b))
    }
}

/// A picture to draw charts on: rectangles, lines and bitmap-font text over a Retina `RGBImage`.
/// Coordinates are pixels, origin top-left, y down; anything outside the picture is clipped.
public struct Canvas: Sendable {
    /// The pixels drawn so far.
    public private(set) var image: RGBImage

    /// A `width` x `height` px canvas filled with `background`.
    public init(width: Int, height: Int, background: ChartColor = .white) {
        image = RGBImage(width: width, height: height, fill: background.tuple)
    }

    /// Width, px.
    public var width: Int { image.width }
    /// Height, px.
    public var height: Int { image.height }

    /// Colour at (x, y); nil outside the picture.
    public func pixel(_ x: Int, _ y: Int) -> ChartColor? {
        guard x >= 0, y >= 0, x < width, y < height else { return nil }
        let i = 3 * (y * width + x)
        return ChartColor(image.rgb[i], image.rgb[i + 1], image.rgb[i + 2])
    }

    /// Sets one pixel (clipped).
    public mutating func set(_ x: Int, _ y: Int, _ c: ChartColor) { image.plot(x, y, c.tuple) }

    /// Fills the rectangle [x, x + w) x [y, y + h).
    public mutating func fill(x: Int, y: Int, width w: Int, height h: Int, _ c: ChartColor) {
        let x0 = max(0, x), y0 = max(0, y), x1 = min(width, x + w), y1 = min(height, y + h)
        guard x0 < x1, y0 < y1 else { return }
        for yy in y0..<y1 {
            var i = 3 * (yy * width + x0)
            for _ in x0..<x1 { image.rgb[i] = c.r; image.rgb[i + 1] = c.g; image.rgb[i + 2] = c.b; i += 3 }
        }
    }

    /// One-pixel outline of the rectangle [x, x + w) x [y, y + h).
    public mutating func stroke(x: Int, y: Int, width w: Int, height h: Int, _ c: ChartColor) {
        fill(x: x, y: y, width: w, height: 1, c); fill(x: x, y: y + h - 1, width: w, height: 1, c)
        fill(x: x, y: y, width: 1, height: h, c); fill(x: x + w - 1, y: y, width: 1, height: h, c)
    }

    /// A straight line from (x0, y0) to (x1, y1) (Bresenham), `thickness` px wide (square pen).
    public mutating func line(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ c: ChartColor, thickness: Int = 1) {
        var x = x0, y = y0
        let dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1
        var err = dx + dy
        let lo = -(thickness - 1) / 2
        while true {
            if thickness <= 1 { set(x, y, c) } else { fill(x: x + lo, y: y + lo, width: thickness, height: thickness, c) }
            if x == x1 && y == y1 { break }
            let e2 = 2 * err
            if e2 >= dy { err += dy; x += sx }
            if e2 <= dx { err += dx; y += sy }
        }
    }

    /// Draws `text` with its top-left corner at (x, y) in the bitmap font at `scale`; with `vertical`, the
    /// text runs bottom to top (rotated 90 degrees counter-clockwise) with its bottom-left corner at (x, y).
    public mutating func text(_ text: String, x: Int, y: Int, scale: Int = 1, _ c: ChartColor = .ink, vertical: Bool = false) {
        var pen = 0
        for ch in text {
            let rows = BitmapFont.rows(of: ch)
            for (r, bits) in rows.enumerated() where bits != 0 {
                for col in 0..<BitmapFont.glyphWidth where bits & (1 << (BitmapFont.glyphWidth - 1 - col)) != 0 {
                    let u = (pen + col) * scale, v = r * scale
                    if vertical { fill(x: x + v, y: y - u - scale, width: scale, height: scale, c) }
                    else { fill(x: x + u, y: y + v, width: scale, height: scale, c) }
                }
            }
            pen += BitmapFont.advance
        }
    }

    /// Draws `text` horizontally centred on `centerX` with its top at `y`.
    public mutating func text(_ s: String, centerX: Int, y: Int, scale: Int = 1, _ c: ChartColor = .ink) {
        text(s, x: centerX - BitmapFont.width(of: s, scale: scale) / 2, y: y, scale: scale, c)
    }

    /// Draws `text` right-aligned so that it ends at `rightX`, top at `y`.
    public mutating func text(_ s: String, rightX: Int, y: Int, scale: Int = 1, _ c: ChartColor = .ink) {
        text(s, x: rightX - BitmapFont.width(of: s, scale: scale), y: y, scale: scale, c)
    }
}
