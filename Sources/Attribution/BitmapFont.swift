import Report
import Retina

/// Heatmap text drawn with Report's built-in 5 x 7 bitmap font (the one font of the codebase), upper-cased
/// so labels read as on a clinical printout.
enum BitmapFont {
    /// Glyph width and height (without the descender row) in font pixels; characters advance by `width + 1`.
    static let width = Report.BitmapFont.glyphWidth, height = 7

    /// Width in picture pixels of `text` drawn at `scale`.
    static func textWidth(_ text: String, scale: Int) -> Int { Report.BitmapFont.width(of: text, scale: scale) }

    /// Draws `text` with its top-left corner at (x, y), each font pixel a `scale` x `scale` block.
    static func draw(_ text: String, at x: Int, _ y: Int, scale: Int = 1, color: (UInt8, UInt8, UInt8), on picture: inout RGBImage) {
        var cx = x
        for ch in text.uppercased() {
            for (r, bits) in Report.BitmapFont.rows(of: ch).prefix(height).enumerated() {
                for c in 0..<width where bits & (1 << (width - 1 - c)) != 0 {
                    for dy in 0..<scale { for dx in 0..<scale { picture.plot(cx + c * scale + dx, y + r * scale + dy, color) } }
                }
            }
            cx += Report.BitmapFont.advance * scale
        }
    }

    /// Draws `text` on a filled box (padding 2 px) so it reads on any background.
    static func label(_ text: String, at x: Int, _ y: Int, scale: Int = 1, color: (UInt8, UInt8, UInt8) = (255, 255, 255),
                      background: (UInt8, UInt8, UInt8) = (0, 0, 0), on picture: inout RGBImage) {
        let w = textWidth(text, scale: scale), h = height * scale
        for yy in (y - 2)..<(y + h + 2) { for xx in (x - 2)..<(x + w + 2) { picture.plot(xx, yy, background, alpha: 0.85) } }
        draw(text, at: x, y, scale: scale, color: color, on: &picture)
    }
}
