import Foundation

/// A deliberately independent PNG writer for tests (stored deflate blocks, hand-written CRC32/Adler-32),
/// so that the libpng-based reader is checked against bytes it did not produce itself.
enum PNGFixture {
    /// color type: 0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA.
    static func encode(width: Int, height: Int, bitDepth: UInt8, colorType: UInt8,
                       rows: [[UInt8]], palette: [(UInt8, UInt8, UInt8)]? = nil) -> Data {
        var out: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        var ihdr = [UInt8]()
        ihdr += be32(UInt32(width)) + be32(UInt32(height))
        ihdr += [bitDepth, colorType, 0, 0, 0]
        out += chunk("IHDR", ihdr)
        if let pal = palette {
            out += chunk("PLTE", pal.flatMap { [$0.0, $0.1, $0.2] })
        }
        var raw = [UInt8]()
        for r in rows { raw.append(0); raw += r }  // filter type 0 (None) on every row
        out += chunk("IDAT", zlibStored(raw))
        out += chunk("IEND", [])
        return Data(out)
    }

    static func be32(_ v: UInt32) -> [UInt8] {
        [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
    }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let t = Array(type.utf8)
        return be32(UInt32(data.count)) + t + data + be32(crc32(t + data))
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0xEDB8_8320 : c >> 1 }
        }
        return c ^ 0xFFFF_FFFF
    }

    static func zlibStored(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x78, 0x01]
        var i = 0
        repeat {
            let n = min(65535, data.count - i)
            let last: UInt8 = i + n >= data.count ? 1 : 0
            out += [last, UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)]
            out += data[i..<(i + n)]
            i += n
        } while i < data.count
        var a: UInt32 = 1, b: UInt32 = 0
        for x in data { a = (a + UInt32(x)) % 65521; b = (b + a) % 65521 }
        return out + be32(b << 16 | a)
    }

    /// An uncompressed BMP (BITMAPINFOHEADER), bottom-up unless `topDown`.
    static func bmp(width: Int, height: Int, bpp: Int, pixel: (Int, Int) -> (UInt8, UInt8, UInt8),
                    topDown: Bool = false, grayPalette: Bool = true) -> Data {
        let rowBytes = ((width * bpp + 31) / 32) * 4
        let paletteBytes = bpp == 8 ? 1024 : 0
        let offset = 14 + 40 + paletteBytes
        var b = [UInt8]()
        func le32(_ v: Int) -> [UInt8] { let u = UInt32(truncatingIfNeeded: v); return [UInt8(u & 0xFF), UInt8((u >> 8) & 0xFF), UInt8((u >> 16) & 0xFF), UInt8(u >> 24)] }
        func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF)] }
        b += [0x42, 0x4D] + le32(offset + rowBytes * height) + le32(0) + le32(offset)
        b += le32(40) + le32(width) + le32(topDown ? -height : height) + le16(1) + le16(bpp)
        b += le32(0) + le32(rowBytes * height) + le32(2835) + le32(2835) + le32(bpp == 8 ? 256 : 0) + le32(0)
        if bpp == 8 {
            for i in 0..<256 { let v = UInt8(grayPalette ? i : 255 - i); b += [v, v, v, 0] }
        }
        for row in 0..<height {
            let y = topDown ? row : height - 1 - row
            var r = [UInt8]()
            for x in 0..<width {
                let (R, G, B) = pixel(x, y)
                switch bpp {
                case 8: r.append(grayPalette ? R : 255 - R)
                case 24: r += [B, G, R]
                default: r += [B, G, R, 255]
                }
            }
            r += [UInt8](repeating: 0, count: rowBytes - r.count)
            b += r
        }
        return Data(b)
    }
}
