import CPNG
import Foundation

/// Why an image could not be read or written. Every case names the file.
public enum ImageIOError: Error, Equatable, CustomStringConvertible {
    /// No file at the path.
    case fileNotFound(path: String)
    /// The file exists but could not be read or written (permissions, I/O error).
    case io(path: String, reason: String)
    /// The bytes are not a PNG or BMP (by their magic number).
    case unknownFormat(path: String)
    /// The file claims a supported format but its contents are damaged or truncated.
    case corrupt(path: String, reason: String)
    /// A valid file of a variant Capillary does not read (e.g. compressed BMP).
    case unsupported(path: String, reason: String)
    /// Width or height is zero or larger than `ImageIO.maxDimension`.
    case badDimensions(path: String, width: Int, height: Int)

    public var description: String {
        switch self {
        case .fileNotFound(let p): return "\(p): no such file"
        case .io(let p, let r): return "\(p): \(r)"
        case .unknownFormat(let p): return "\(p): not a PNG or BMP image (unrecognised magic bytes)"
        case .corrupt(let p, let r): return "\(p): corrupt image: \(r)"
        case .unsupported(let p, let r): return "\(p): unsupported image: \(r)"
        case .badDimensions(let p, let w, let h):
            return "\(p): image is \(w)x\(h) px; sizes from 1 to \(ImageIO.maxDimension) px are accepted"
        }
    }
}

/// Reading and writing PNG (libpng) and reading BMP (OCTA-500 projections).
public enum ImageIO {
    /// Largest accepted width or height, px. Larger images are refused before any pixel is decoded.
    public static let maxDimension = 8192

    /// Reads a PNG or BMP file (detected by magic bytes) as a grayscale image.
    ///
    /// 8- and 16-bit gray, palette and RGB(A) PNGs are accepted (colour is converted to luminance);
    /// BMP: uncompressed 8-bit palette, 24-bit and 32-bit. `pixelSizeMM` defaults from the width via
    /// `FieldOfView.defaultMM(widthPX:)`.
    /// - Throws: `ImageIOError` naming the file and the problem.
    public static func read(path: String, pixelSizeMM: Double? = nil) throws -> GrayImage {
        let data = try readFile(path)
        return try decode(data, name: path, pixelSizeMM: pixelSizeMM)
    }

    /// Decodes PNG or BMP bytes; `name` is used in error messages.
    public static func decode(_ data: Data, name: String, pixelSizeMM: Double? = nil) throws -> GrayImage {
        let bytes = [UInt8](data)
        var image: GrayImage
        if bytes.count >= 8 && bytes[0..<8].elementsEqual([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
            image = try decodePNG(bytes, name: name)
        } else if bytes.count >= 2 && bytes[0] == 0x42 && bytes[1] == 0x4D {
            image = try BMPDecoder.decode(bytes, name: name)
        } else {
            throw ImageIOError.unknownFormat(path: name)
        }
        image.pixelSizeMM = pixelSizeMM ?? FieldOfView.defaultMM(widthPX: image.width) / Double(image.width)
        return image
    }

    /// Writes an 8-bit gray PNG, atomically (temporary file renamed into place).
    public static func writePNG(_ image: GrayImage, to path: String) throws {
        try writeFile(try encodePNG(gray: image.bytes(), width: image.width, height: image.height, name: path), path)
    }

    /// Writes a mask as an 8-bit PNG with 0 (outside) and 255 (inside).
    public static func writePNG(_ mask: BinaryMask, to path: String) throws {
        let g = mask.bits.map { $0 != 0 ? UInt8(255) : 0 }
        try writeFile(try encodePNG(gray: g, width: mask.width, height: mask.height, name: path), path)
    }

    /// Writes an RGB picture as an 8-bit RGB PNG, atomically.
    public static func writePNG(_ picture: RGBImage, to path: String) throws {
        try writeFile(try encodePNG(rgb: picture.rgb, width: picture.width, height: picture.height, name: path), path)
    }

    /// PNG bytes of an 8-bit gray image (e.g. for base64 transport).
    public static func pngData(_ image: GrayImage) throws -> Data {
        try encodePNG(gray: image.bytes(), width: image.width, height: image.height, name: "<memory>")
    }

    /// PNG bytes of an RGB picture.
    public static func pngData(_ picture: RGBImage) throws -> Data {
        try encodePNG(rgb: picture.rgb, width: picture.width, height: picture.height, name: "<memory>")
    }

    /// Reads a mask PNG/BMP: pixels brighter than mid-gray are inside.
    public static func readMask(path: String) throws -> BinaryMask {
        let img = try read(path: path, pixelSizeMM: 1)
        return BinaryMask(thresholding: img, at: 0.5)
    }

    // MARK: - PNG through libpng's simplified API (errors come back as messages, never longjmp into Swift)

    // png.h: PNG_IMAGE_VERSION 1, PNG_FORMAT_FLAG_LINEAR 0x04, PNG_FORMAT_GRAY 0, PNG_FORMAT_RGB 0x02.
    private static let imageVersion: UInt32 = 1
    private static let formatFlagLinear: UInt32 = 0x04
    private static let formatGray: UInt32 = 0
    private static let formatLinearGray: UInt32 = 0x04
    private static let formatRGB: UInt32 = 0x02

    private static func message(_ img: png_image) -> String {
        var m = img.message
        return withUnsafeBytes(of: &m) { raw in
            let b = raw.bindMemory(to: UInt8.self)
            let end = b.firstIndex(of: 0) ?? b.count
            return String(decoding: b[0..<end], as: UTF8.self)
        }
    }

    private static func decodePNG(_ bytes: [UInt8], name: String) throws -> GrayImage {
        var img = png_image()
        img.version = imageVersion
        let ok = bytes.withUnsafeBytes { raw in
            png_image_begin_read_from_memory(&img, raw.baseAddress, raw.count)
        }
        guard ok != 0 else {
            let m = message(img)
            png_image_free(&img)
            throw ImageIOError.corrupt(path: name, reason: m.isEmpty ? "bad PNG header" : m)
        }
        let w = Int(img.width), h = Int(img.height)
        guard w > 0, h > 0, w <= maxDimension, h <= maxDimension else {
            png_image_free(&img)
            throw ImageIOError.badDimensions(path: name, width: w, height: h)
        }
        let sixteen = (img.format & formatFlagLinear) != 0
        img.format = sixteen ? formatLinearGray : formatGray
        var pixels = [Float](repeating: 0, count: w * h)
        if sixteen {
            var buf = [UInt16](repeating: 0, count: w * h)
            let r = bytes.withUnsafeBytes { _ in
                buf.withUnsafeMutableBytes { png_image_finish_read(&img, nil, $0.baseAddress, Int32(w), nil) }
            }
            guard r != 0 else {
                let m = message(img); png_image_free(&img)
                throw ImageIOError.corrupt(path: name, reason: m)
            }
            for i in 0..<(w * h) { pixels[i] = Float(buf[i]) / 65535 }
        } else {
            var buf = [UInt8](repeating: 0, count: w * h)
            let r = buf.withUnsafeMutableBytes { png_image_finish_read(&img, nil, $0.baseAddress, Int32(w), nil) }
            guard r != 0 else {
                let m = message(img); png_image_free(&img)
                throw ImageIOError.corrupt(path: name, reason: m)
            }
            for i in 0..<(w * h) { pixels[i] = Float(buf[i]) / 255 }
        }
        png_image_free(&img)
        return GrayImage(width: w, height: h, pixelSizeMM: 1, pixels: pixels)
    }

    private static func encodePNG(gray: [UInt8], width: Int, height: Int, name: String) throws -> Data {
        try encode(gray, width: width, height: height, format: formatGray, channels: 1, name: name)
    }

    private static func encodePNG(rgb: [UInt8], width: Int, height: Int, name: String) throws -> Data {
        try encode(rgb, width: width, height: height, format: formatRGB, channels: 3, name: name)
    }

    private static func encode(_ px: [UInt8], width: Int, height: Int, format: UInt32, channels: Int,
                               name: String) throws -> Data {
        guard width > 0, height > 0, width <= maxDimension, height <= maxDimension else {
            throw ImageIOError.badDimensions(path: name, width: width, height: height)
        }
        var img = png_image()
        img.version = imageVersion
        img.width = UInt32(width)
        img.height = UInt32(height)
        img.format = format
        // First call sizes the buffer, second fills it.
        var size = 0
        let stride = Int32(width * channels)
        var ok = px.withUnsafeBytes { png_image_write_to_memory(&img, nil, &size, 0, $0.baseAddress, stride, nil) }
        guard ok != 0, size > 0 else {
            let m = message(img); png_image_free(&img)
            throw ImageIOError.io(path: name, reason: "PNG encoding failed: \(m)")
        }
        var out = [UInt8](repeating: 0, count: size)
        ok = out.withUnsafeMutableBytes { dst in
            px.withUnsafeBytes { png_image_write_to_memory(&img, dst.baseAddress, &size, 0, $0.baseAddress, stride, nil) }
        }
        png_image_free(&img)
        guard ok != 0 else { throw ImageIOError.io(path: name, reason: "PNG encoding failed: \(message(img))") }
        return Data(out[0..<size])
    }

    // MARK: - Files

    static func readFile(_ path: String) throws -> Data {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw ImageIOError.fileNotFound(path: path)
        }
        if isDir.boolValue { throw ImageIOError.io(path: path, reason: "is a directory, not an image") }
        do {
            return try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ImageIOError.io(path: path, reason: "cannot read: \(error.localizedDescription)")
        }
    }

    static func writeFile(_ data: Data, _ path: String) throws {
        do {
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw ImageIOError.io(path: path, reason: "cannot write: \(error.localizedDescription)")
        }
    }
}

/// Windows BMP decoding (BITMAPINFOHEADER and later; uncompressed 8, 24 and 32 bits per pixel).
enum BMPDecoder {
    static func decode(_ b: [UInt8], name: String) throws -> GrayImage {
        func u16(_ o: Int) -> Int { Int(b[o]) | Int(b[o + 1]) << 8 }
        func u32(_ o: Int) -> UInt32 {
            UInt32(b[o]) | UInt32(b[o + 1]) << 8 | UInt32(b[o + 2]) << 16 | UInt32(b[o + 3]) << 24
        }
        guard b.count >= 54 else { throw ImageIOError.corrupt(path: name, reason: "BMP header truncated (\(b.count) bytes)") }
        let dataOffset = Int(u32(10))
        let headerSize = Int(u32(14))
        guard headerSize >= 40 else {
            throw ImageIOError.unsupported(path: name, reason: "BMP core header (\(headerSize) bytes) is not supported")
        }
        let width = Int(Int32(bitPattern: u32(18)))
        let rawHeight = Int(Int32(bitPattern: u32(22)))
        let bpp = u16(28)
        let compression = u32(30)
        let topDown = rawHeight < 0
        let height = abs(rawHeight)
        guard width > 0, height > 0, width <= ImageIO.maxDimension, height <= ImageIO.maxDimension else {
            throw ImageIOError.badDimensions(path: name, width: width, height: height)
        }
        // BI_RGB (0), or BI_BITFIELDS (3) for 32-bit with the usual masks.
        guard compression == 0 || (compression == 3 && bpp == 32) else {
            throw ImageIOError.unsupported(path: name, reason: "compressed BMP (compression \(compression))")
        }
        guard [8, 24, 32].contains(bpp) else {
            throw ImageIOError.unsupported(path: name, reason: "\(bpp)-bit BMP (8, 24 and 32 are read)")
        }
        let rowBytes = ((width * bpp + 31) / 32) * 4
        guard dataOffset >= 14 + headerSize, dataOffset + rowBytes * height <= b.count else {
            throw ImageIOError.corrupt(path: name, reason: "pixel data truncated: need \(rowBytes * height) bytes at offset \(dataOffset), file has \(b.count)")
        }
        var palette = [Float](repeating: 0, count: 256)
        if bpp == 8 {
            var colours = Int(u32(46))
            if colours == 0 { colours = 256 }
            let palStart = 14 + headerSize
            guard colours <= 256, palStart + 4 * colours <= dataOffset else {
                throw ImageIOError.corrupt(path: name, reason: "BMP palette of \(colours) entries does not fit")
            }
            for i in 0..<colours {
                let o = palStart + 4 * i  // B, G, R, reserved
                palette[i] = luminance(r: b[o + 2], g: b[o + 1], b: b[o])
            }
        }
        var px = [Float](repeating: 0, count: width * height)
        for row in 0..<height {
            let y = topDown ? row : height - 1 - row
            let start = dataOffset + row * rowBytes
            for x in 0..<width {
                let v: Float
                switch bpp {
                case 8: v = palette[Int(b[start + x])]
                case 24: let o = start + 3 * x; v = luminance(r: b[o + 2], g: b[o + 1], b: b[o])
                default: let o = start + 4 * x; v = luminance(r: b[o + 2], g: b[o + 1], b: b[o])
                }
                px[y * width + x] = v
            }
        }
        return GrayImage(width: width, height: height, pixelSizeMM: 1, pixels: px)
    }

    /// Rec. 601 luma of 8-bit RGB, in [0, 1]; exact for gray (r == g == b).
    static func luminance(r: UInt8, g: UInt8, b: UInt8) -> Float {
        if r == g && g == b { return Float(r) / 255 }
        return (0.299 * Float(r) + 0.587 * Float(g) + 0.114 * Float(b)) / 255
    }
}
