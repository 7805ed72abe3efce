/// A single-channel image with intensities in [0, 1] and a physical pixel size.
///
/// OCTA en-face projections are grayscale; everything in Capillary works on this type.
/// Storage is Float32, row-major (`pixels[y * width + x]`), y growing downwards.
/// `pixelSizeMM` is the side of one square pixel in millimetres (e.g. 3 mm / 304 px).
public struct GrayImage: Sendable, Equatable {
    /// Width in pixels.
    public let width: Int
    /// Height in pixels.
    public let height: Int
    /// Side of one square pixel, mm.
    public var pixelSizeMM: Double
    /// Row-major intensities in [0, 1].
    public var pixels: [Float]

    /// An image filled with one value.
    public init(width: Int, height: Int, pixelSizeMM: Double, fill: Float = 0) {
        precondition(width >= 0 && height >= 0, "GrayImage: negative size \(width)x\(height)")
        self.width = width
        self.height = height
        self.pixelSizeMM = pixelSizeMM
        self.pixels = [Float](repeating: fill, count: width * height)
    }

    /// An image from row-major pixels; `pixels.count` must equal `width * height`.
    public init(width: Int, height: Int, pixelSizeMM: Double, pixels: [Float]) {
        precondition(pixels.count == width * height,
                     "GrayImage: \(pixels.count) pixels for a \(width)x\(height) image")
        self.width = width
        self.height = height
        self.pixelSizeMM = pixelSizeMM
        self.pixels = pixels
    }

    /// An image from 8-bit row-major gray levels (0 -> 0.0, 255 -> 1.0).
    public init(width: Int, height: Int, pixelSizeMM: Double, bytes: [UInt8]) {
        precondition(bytes.count == width * height,
                     "GrayImage: \(bytes.count) bytes for a \(width)x\(height) image")
        self.width = width
        self.height = height
        self.pixelSizeMM = pixelSizeMM
        self.pixels = bytes.map { Float($0) / 255 }
    }

    /// Intensity at column `x`, row `y`.
    @inlinable
    public subscript(x: Int, y: Int) -> Float {
        get { pixels[y * width + x] }
        set { pixels[y * width + x] = newValue }
    }

    /// Field of view (width, height) in mm.
    public var fieldOfViewMM: (width: Double, height: Double) {
        (Double(width) * pixelSizeMM, Double(height) * pixelSizeMM)
    }

    /// Area of one pixel, mm2.
    public var pixelAreaMM2: Double { pixelSizeMM * pixelSizeMM }

    /// 8-bit gray levels, clamped and rounded to nearest.
    public func bytes() -> [UInt8] {
        pixels.map { v in
            let c = v.isNaN ? 0 : min(max(v, 0), 1)
            return UInt8((c * 255).rounded())
        }
    }
}

/// A binary mask (vessels, FAZ, dropout, ...) on the pixel grid of an image.
/// `bits[y * width + x]` is 1 inside, 0 outside.
public struct BinaryMask: Sendable, Equatable {
    /// Width in pixels.
    public let width: Int
    /// Height in pixels.
    public let height: Int
    /// Row-major 0/1 values.
    public var bits: [UInt8]

    /// An empty (all zero) mask.
    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
        self.bits = [UInt8](repeating: 0, count: width * height)
    }

    /// A mask from row-major 0/1 (any non-zero counts as 1) values.
    public init(width: Int, height: Int, bits: [UInt8]) {
        precondition(bits.count == width * height,
                     "BinaryMask: \(bits.count) values for a \(width)x\(height) mask")
        self.width = width
        self.height = height
        self.bits = bits.map { $0 != 0 ? 1 : 0 }
    }

    /// Pixels of `image` at or above `threshold` (intensity in [0, 1]).
    public init(thresholding image: GrayImage, at threshold: Float) {
        self.width = image.width
        self.height = image.height
        self.bits = image.pixels.map { $0 >= threshold ? 1 : 0 }
    }

    /// Whether pixel (x, y) is inside the mask.
    @inlinable
    public subscript(x: Int, y: Int) -> Bool {
        get { bits[y * width + x] != 0 }
        set { bits[y * width + x] = newValue ? 1 : 0 }
    }

    /// Number of pixels inside.
    public var count: Int { bits.reduce(0) { $0 + Int($1) } }

    /// Fraction of pixels inside, 0-1.
    public var fraction: Double { bits.isEmpty ? 0 : Double(count) / Double(bits.count) }

    /// The mask as an image (inside = 1.0), e.g. to save as a 0/255 PNG.
    public func image(pixelSizeMM: Double) -> GrayImage {
        GrayImage(width: width, height: height, pixelSizeMM: pixelSizeMM, pixels: bits.map { Float($0) })
    }

    /// Dice overlap 2|A∩B| / (|A|+|B|); 1 when both are empty.
    public func dice(_ other: BinaryMask) -> Double {
        precondition(width == other.width && height == other.height,
                     "BinaryMask.dice: \(width)x\(height) vs \(other.width)x\(other.height)")
        var inter = 0, a = 0, b = 0
        for i in 0..<bits.count {
            let p = bits[i] != 0, q = other.bits[i] != 0
            if p { a += 1 }
            if q { b += 1 }
            if p && q { inter += 1 }
        }
        return a + b == 0 ? 1 : 2 * Double(inter) / Double(a + b)
    }
}

/// An 8-bit RGB picture for overlays, heatmaps and reports (not for analysis).
public struct RGBImage: Sendable, Equatable {
    /// Width in pixels.
    public let width: Int
    /// Height in pixels.
    public let height: Int
    /// Row-major interleaved R, G, B bytes (`3 * (y * width + x)`).
    public var rgb: [UInt8]

    /// A picture filled with one colour.
    public init(width: Int, height: Int, fill: (UInt8, UInt8, UInt8) = (0, 0, 0)) {
        self.width = width
        self.height = height
        var a = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) { a[3 * i] = fill.0; a[3 * i + 1] = fill.1; a[3 * i + 2] = fill.2 }
        self.rgb = a
    }

    /// A gray picture of `image` (to draw on).
    public init(gray image: GrayImage) {
        self.width = image.width
        self.height = image.height
        let g = image.bytes()
        var a = [UInt8](repeating: 0, count: g.count * 3)
        for i in 0..<g.count { a[3 * i] = g[i]; a[3 * i + 1] = g[i]; a[3 * i + 2] = g[i] }
        self.rgb = a
    }

    /// Sets pixel (x, y) if it lies inside the picture; blends with `alpha` in [0, 1].
    public mutating func plot(_ x: Int, _ y: Int, _ c: (UInt8, UInt8, UInt8), alpha: Float = 1) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let i = 3 * (y * width + x)
        if alpha >= 1 {
            rgb[i] = c.0; rgb[i + 1] = c.1; rgb[i + 2] = c.2
        } else {
            let a = max(0, alpha)
            func mix(_ old: UInt8, _ new: UInt8) -> UInt8 {
                UInt8((Float(old) * (1 - a) + Float(new) * a).rounded())
            }
            rgb[i] = mix(rgb[i], c.0); rgb[i + 1] = mix(rgb[i + 1], c.1); rgb[i + 2] = mix(rgb[i + 2], c.2)
        }
    }
}

/// Default field of view for OCTA images whose size alone is known.
public enum FieldOfView {
    /// Field of view in mm for a square scan `widthPX` wide: 304 and 320 px -> 3 mm (3x3 mm macula scans,
    /// OCTA-500 3M, ROSE), 400 px -> 6 mm (OCTA-500 6M), 1024 px -> 12 mm (DRAC ultra-wide, approximate);
    /// any other size keeps the 3 mm / 304 px pixel pitch (0.00987 mm).
    public static func defaultMM(widthPX: Int) -> Double {
        switch widthPX {
        case 304, 320: return 3
        case 400: return 6
        case 1024: return 12
        default: return Double(widthPX) * 3.0 / 304.0
        }
    }
}
