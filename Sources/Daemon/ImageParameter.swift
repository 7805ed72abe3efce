import Common
import Foundation
import Retina
import RPC

/// An image a client sent, decoded: the pixels plus where they came from.
public struct DecodedImage: Sendable {
    /// The grayscale image with its pixel size set from `fovMM` (or the width default).
    public var image: GrayImage
    /// "path", "png_base64" or "synthetic".
    public var source: String
    /// Time to read and decode (or simulate) the image, ms.
    public var decodeMS: Double
    /// For synthetic images: the simulator's ground-truth stage and severity.
    public var syntheticStage: DRStage?
    /// For synthetic images: the severity used, 0-1.
    public var syntheticSeverity: Double?

    /// Field of view (side of the image), mm.
    public var fovMM: Double { image.pixelSizeMM * Double(image.width) }

    /// A JSON description for results: source, size, pixel size, field of view, synthetic truth.
    public var json: JSONValue {
        var o: JSONObject = ["source": .string(source), "widthPX": .int(Int64(image.width)),
                             "heightPX": .int(Int64(image.height)), "pixelSizeMM": .double(image.pixelSizeMM),
                             "fovMM": .double(fovMM)]
        if let s = syntheticStage { o["syntheticStage"] = .string(s.rawValue) }
        if let s = syntheticSeverity { o["syntheticSeverity"] = .double(s) }
        return .object(o)
    }
}

/// Reads the `image` parameter every imaging method takes.
///
/// Forms (exactly one source; `fovMM` optional everywhere, in mm, default from the width: 304 px -> 3 mm):
/// - `{"path": "/abs/eye.png"}` (PNG or BMP on the daemon's machine; a bare string is the same);
/// - `{"png_base64": "iVBOR..."}` (PNG or BMP bytes, base64);
/// - `{"synthetic": {"seed": 7, "stage": "npdr" | "severity": 0.5, "sizePX"?: 304}}` (simulated eye; the
///   severity is drawn from the stage's interval with the seed when only the stage is given).
/// Every failure is a `DaemonError.badImage` (-32602) naming the reason: missing file, corrupt bytes, image
/// too large (checked from the header before decoding), bad base64, unknown stage.
public struct ImageParameter: Sendable {
    /// The limits applied.
    public var configuration: DaemonConfiguration

    /// A reader with these limits.
    public init(configuration: DaemonConfiguration) { self.configuration = configuration }

    /// Decodes `params.image`.
    /// - Throws: `DaemonError.badImage` (-32602).
    public func decode(_ params: JSONValue) throws -> DecodedImage {
        guard case .object(let p) = params else {
            throw DaemonError.invalidParams("params must be an object with field 'image', got \(params.typeName)")
        }
        guard let image = p["image"], image != .null else {
            throw DaemonError.badImage("missing required field 'image' ({path} | {png_base64} | {synthetic: {seed, stage}})")
        }
        return try decodeImage(image)
    }

    /// Decodes one image value (an object as above, or a path string).
    public func decodeImage(_ value: JSONValue) throws -> DecodedImage {
        let t0 = ProcessStats.monotonicSeconds()
        if case .string(let path) = value { return try fromPath(path, fovMM: nil, t0: t0) }
        guard case .object(let o) = value else {
            throw DaemonError.badImage("must be an object ({path} | {png_base64} | {synthetic}) or a path string, got \(value.typeName)")
        }
        let sources = ["path", "png_base64", "synthetic"].filter { o[$0] != nil && o[$0] != .null }
        guard sources.count == 1 else {
            throw DaemonError.badImage(sources.isEmpty
                ? "give one of 'path', 'png_base64' or 'synthetic'"
                : "give only one of 'path', 'png_base64' or 'synthetic' (got \(sources.joined(separator: ", ")))")
        }
        var fovMM: Double?
        if let f = o["fovMM"], f != .null {
            guard let d = f.doubleValue, d.isFinite, d > 0, d <= 24 else {
                throw DaemonError.badImage("'fovMM' must be a number of millimetres in (0, 24], got \(f)")
            }
            fovMM = d
        }
        switch sources[0] {
        case "path":
            guard let path = o["path"]?.stringValue else { throw DaemonError.badImage("'path' must be a string") }
            return try fromPath(path, fovMM: fovMM, t0: t0)
        case "png_base64":
            guard let text = o["png_base64"]?.stringValue else { throw DaemonError.badImage("'png_base64' must be a string") }
            // Base64 inflates by 4/3: refuse before allocating the decoded copy.
            guard text.utf8.count / 4 * 3 <= configuration.maxImageBytes else {
                throw DaemonError.badImage("png_base64 is \(text.utf8.count) characters; the limit is \(configuration.maxImageBytes) decoded bytes")
            }
            guard let data = Data(base64Encoded: text, options: .ignoreUnknownCharacters), !data.isEmpty else {
                throw DaemonError.badImage("'png_base64' is not valid base64")
            }
            return try fromBytes(data, name: "png_base64", source: "png_base64", fovMM: fovMM, t0: t0)
        default:
            return try synthetic(o["synthetic"]!, fovMM: fovMM, t0: t0)
        }
    }

    private func fromPath(_ path: String, fovMM: Double?, t0: Double) throws -> DecodedImage {
        guard path.hasPrefix("/") else {
            throw DaemonError.badImage("path '\(path)' must be absolute (the daemon runs in \(FileManager.default.currentDirectoryPath))")
        }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw DaemonError.badImage("\(path): no such file")
        }
        guard !isDir.boolValue else { throw DaemonError.badImage("\(path): is a directory, not an image") }
        let size = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
        guard size <= configuration.maxImageBytes else {
            throw DaemonError.badImage("\(path): file is \(size) bytes; the limit is \(configuration.maxImageBytes) bytes")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DaemonError.badImage("\(path): cannot be read (permissions?)")
        }
        return try fromBytes(data, name: path, source: "path", fovMM: fovMM, t0: t0)
    }

    private func fromBytes(_ data: Data, name: String, source: String, fovMM: Double?, t0: Double) throws -> DecodedImage {
        guard data.count <= configuration.maxImageBytes else {
            throw DaemonError.badImage("\(name): \(data.count) bytes; the limit is \(configuration.maxImageBytes) bytes")
        }
        if let (w, h) = Self.headerSize(data), w > configuration.maxImageSidePX || h > configuration.maxImageSidePX {
            throw DaemonError.badImage("\(name): image is \(w)x\(h) px; the daemon accepts at most \(configuration.maxImageSidePX) px per side")
        }
        var img: GrayImage
        do { img = try ImageIO.decode(data, name: name) } catch {
            throw DaemonError.badImage("\(error)")
        }
        if let f = fovMM { img.pixelSizeMM = f / Double(img.width) }
        return DecodedImage(image: img, source: source, decodeMS: (ProcessStats.monotonicSeconds() - t0) * 1000)
    }

    /// Width and height from a PNG IHDR or BMP info header, without decoding; nil if not recognisable
    /// (the decoder then reports the real problem).
    static func headerSize(_ data: Data) -> (Int, Int)? {
        let b = [UInt8](data.prefix(26))
        if b.count >= 24 && b[0] == 0x89 && b[1] == 0x50 && b[12] == 0x49 && b[13] == 0x48 {
            func be(_ i: Int) -> Int { Int(b[i]) << 24 | Int(b[i + 1]) << 16 | Int(b[i + 2]) << 8 | Int(b[i + 3]) }
            return (be(16), be(20))
        }
        if b.count >= 26 && b[0] == 0x42 && b[1] == 0x4D {
            func le(_ i: Int) -> Int32 {
                Int32(bitPattern: UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24)
            }
            return (Int(le(18).magnitude), Int(le(22).magnitude))
        }
        return nil
    }

    private func synthetic(_ value: JSONValue, fovMM: Double?, t0: Double) throws -> DecodedImage {
        guard case .object(let s) = value else {
            throw DaemonError.badImage("'synthetic' must be an object {seed, stage | severity, sizePX?}, got \(value.typeName)")
        }
        guard let seedValue = s["seed"], let seed = seedValue.int64Value, seed >= 0 else {
            throw DaemonError.badImage("'synthetic.seed' must be a non-negative integer")
        }
        let sizePX = s["sizePX"]?.intValue ?? 304
        guard sizePX >= 64 && sizePX <= configuration.maxSyntheticSidePX else {
            throw DaemonError.badImage("'synthetic.sizePX' must be 64...\(configuration.maxSyntheticSidePX), got \(s["sizePX"]!)")
        }
        var severity: Double
        if let v = s["severity"], v != .null {
            guard let d = v.doubleValue, d >= 0, d <= 1 else {
                throw DaemonError.badImage("'synthetic.severity' must be a number in [0, 1], got \(v)")
            }
            severity = d
        } else if let v = s["stage"], v != .null {
            guard let name = v.stringValue, let stage = DRStage(rawValue: name.lowercased()) else {
                throw DaemonError.badImage("'synthetic.stage' must be one of \(DRStage.allCases.map(\.rawValue).joined(separator: ", ")), got \(v)")
            }
            // Same rule as the cohort planner: a seeded draw inside the stage's severity interval.
            var rng = SeededGenerator(seed: UInt64(seed), stream: 0x5E7E)
            let r = SeverityScale.range(of: stage)
            severity = min(r.hi - 1e-6, rng.uniform(r.lo, r.hi))
            if stage == .pdr { severity = r.lo + (r.hi - r.lo) * rng.uniform() }
        } else {
            throw DaemonError.badImage("'synthetic' needs 'stage' (healthy, npdr, pdr) or 'severity' (0-1)")
        }
        let config = SimulatorConfig(sizePX: sizePX, fovMM: fovMM ?? 3)
        if let problem = config.validationError() { throw DaemonError.badImage("synthetic: \(problem)") }
        let eye = OCTASimulator(config: config).generate(seed: UInt64(seed), severity: severity)
        return DecodedImage(image: eye.image, source: "synthetic", decodeMS: (ProcessStats.monotonicSeconds() - t0) * 1000,
                            syntheticStage: eye.truth.stage, syntheticSeverity: severity)
    }
}
