import Foundation

/// Why reading, writing or loading a safetensors checkpoint failed. Every case names the file, and the
/// tensor where one is involved, so the message says what to fix.
public enum SafeTensorsError: Error, CustomStringConvertible, Equatable {
    /// The file could not be read or written.
    case io(path: String, reason: String)
    /// The file ends before the header or data it announces.
    case truncated(path: String, reason: String)
    /// The JSON header is not valid safetensors.
    case invalidHeader(path: String, reason: String)
    /// A tensor's dtype is not F32, F16 or BF16.
    case unsupportedDType(path: String, tensor: String, dtype: String)
    /// A tensor's data_offsets disagree with its shape or lie outside the data section.
    case badOffsets(path: String, tensor: String, reason: String)
    /// The model has a tensor the file lacks.
    case missingTensor(path: String, tensor: String)
    /// The file has a tensor the model lacks.
    case unexpectedTensor(path: String, tensor: String)
    /// The file's tensor has another shape than the model's.
    case shapeMismatch(path: String, tensor: String, expected: [Int], found: [Int])

    /// A message naming the file (and tensor) and what is wrong.
    public var description: String {
        switch self {
        case let .io(p, r): return "\(p): \(r)"
        case let .truncated(p, r): return "\(p): truncated safetensors file: \(r)"
        case let .invalidHeader(p, r): return "\(p): invalid safetensors header: \(r)"
        case let .unsupportedDType(p, t, d): return "\(p): tensor '\(t)' has dtype \(d); only F32, F16 and BF16 are supported"
        case let .badOffsets(p, t, r): return "\(p): tensor '\(t)': \(r)"
        case let .missingTensor(p, t): return "\(p): the model needs tensor '\(t)', which the file does not contain"
        case let .unexpectedTensor(p, t): return "\(p): the file contains tensor '\(t)', which the model does not have"
        case let .shapeMismatch(p, t, e, f): return "\(p): tensor '\(t)' has shape \(f) in the file but \(e) in the model"
        }
    }
}

/// The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian header
/// length N, N bytes of JSON `{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__":
/// {string: string}}`, then the raw little-endian tensor bytes (offsets relative to the data section).
///
/// Writing matches Python's `safetensors.torch.save_file` byte for byte for F32 tensors: tensors sorted by
/// name, compact JSON with `__metadata__` first, header padded with spaces to a multiple of 8 bytes.
public enum SafeTensors {
    /// Largest header accepted (the reference implementation's limit), so a corrupt length cannot make us
    /// allocate gigabytes.
    public static let maxHeaderBytes = 100_000_000

    /// Serialises F32 tensors (names must be unique) and string metadata into safetensors bytes.
    public static func encode(_ tensors: [(name: String, tensor: Tensor)], metadata: [String: String] = [:]) -> [UInt8] {
        let sorted = tensors.sorted { $0.name < $1.name }
        var parts: [String] = []
        if !metadata.isEmpty {
            let kv = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
            parts.append("\"__metadata__\":{\(kv.joined(separator: ","))}")
        }
        var offset = 0
        for (name, t) in sorted {
            let bytes = t.count * 4
            parts.append("\(jsonString(name)):{\"dtype\":\"F32\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],"
                + "\"data_offsets\":[\(offset),\(offset + bytes)]}")
            offset += bytes
        }
        var header = Array("{\(parts.joined(separator: ","))}".utf8)
        while (8 + header.count) % 8 != 0 { header.append(0x20) }
        var out = [UInt8]()
        out.reserveCapacity(8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: header)
        for (_, t) in sorted {
            for i in 0..<t.count {
                withUnsafeBytes(of: t.data[i].bitPattern.littleEndian) { out.append(contentsOf: $0) }
            }
        }
        return out
    }

    /// Parses safetensors bytes into named F32 tensors (F16 and BF16 are widened) in file-offset order, plus
    /// metadata. `path` only labels errors. Throws `SafeTensorsError` on any inconsistency; never traps.
    public static func decode(_ bytes: [UInt8], path: String = "<memory>") throws
        -> (tensors: [(name: String, tensor: Tensor)], metadata: [String: String]) {
        guard bytes.count >= 8 else { throw SafeTensorsError.truncated(path: path, reason: "\(bytes.count) bytes, need at least 8") }
        var n: UInt64 = 0
        for i in 0..<8 { n |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard n <= UInt64(maxHeaderBytes) else {
            throw SafeTensorsError.invalidHeader(path: path, reason: "header length \(n) exceeds \(maxHeaderBytes) bytes")
        }
        let headerLen = Int(n)
        guard 8 + headerLen <= bytes.count else {
            throw SafeTensorsError.truncated(path: path, reason: "header of \(headerLen) bytes but only \(bytes.count - 8) follow")
        }
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + headerLen)]), options: [])
        } catch {
            throw SafeTensorsError.invalidHeader(path: path, reason: "not JSON (\(error.localizedDescription))")
        }
        guard let dict = json as? [String: Any] else {
            throw SafeTensorsError.invalidHeader(path: path, reason: "top level is not a JSON object")
        }
        var metadata: [String: String] = [:]
        if let m = dict["__metadata__"] {
            guard let md = m as? [String: Any] else {
                throw SafeTensorsError.invalidHeader(path: path, reason: "__metadata__ is not an object")
            }
            for (k, v) in md {
                guard let s = v as? String else {
                    throw SafeTensorsError.invalidHeader(path: path, reason: "__metadata__ value for '\(k)' is not a string")
                }
                metadata[k] = s
            }
        }
        let dataStart = 8 + headerLen
        let dataSize = bytes.count - dataStart
        var entries: [(name: String, dtype: String, shape: [Int], begin: Int, end: Int)] = []
        for (name, value) in dict where name != "__metadata__" {
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                  let shapeAny = info["shape"] as? [Any], let offAny = info["data_offsets"] as? [Any] else {
                throw SafeTensorsError.invalidHeader(path: path, reason: "entry '\(name)' lacks dtype, shape or data_offsets")
            }
            let shape = try shapeAny.map { v -> Int in
                guard let i = intValue(v), i >= 0 else {
                    throw SafeTensorsError.invalidHeader(path: path, reason: "entry '\(name)' has a bad shape \(shapeAny)")
                }
                return i
            }
            guard offAny.count == 2, let begin = intValue(offAny[0]), let end = intValue(offAny[1]) else {
                throw SafeTensorsError.badOffsets(path: path, tensor: name, reason: "data_offsets must be [begin, end]")
            }
            let width: Int
            switch dtype {
            case "F32": width = 4
            case "F16", "BF16": width = 2
            default: throw SafeTensorsError.unsupportedDType(path: path, tensor: name, dtype: dtype)
            }
            var elements = 1
            for d in shape {
                let (p, o) = elements.multipliedReportingOverflow(by: d)
                guard !o, p <= Int(Int32.max) else {
                    throw SafeTensorsError.badOffsets(path: path, tensor: name, reason: "shape \(shape) is too large")
                }
                elements = p
            }
            guard begin >= 0, begin <= end, end <= dataSize else {
                throw SafeTensorsError.badOffsets(path: path, tensor: name,
                    reason: "data_offsets [\(begin), \(end)] outside the \(dataSize)-byte data section")
            }
            guard end - begin == elements * width else {
                throw SafeTensorsError.badOffsets(path: path, tensor: name,
                    reason: "\(end - begin) bytes do not hold shape \(shape) of \(dtype) (\(elements * width) bytes)")
            }
            entries.append((name, dtype, shape, begin, end))
        }
        entries.sort { ($0.begin, $0.name) < ($1.begin, $1.name) }
        var expected = 0
        for e in entries {
            // The format requires the data section to be covered exactly, without overlaps or holes.
            guard e.begin == expected else {
                throw SafeTensorsError.badOffsets(path: path, tensor: e.name,
                    reason: "data starts at byte \(e.begin) but the previous tensor ends at \(expected)")
            }
            expected = e.end
        }
        var tensors: [(name: String, tensor: Tensor)] = []
        for e in entries {
            let t = Tensor(uninitializedShape: e.shape)
            let base = dataStart + e.begin
            bytes.withUnsafeBytes { raw in
                switch e.dtype {
                case "F32":
                    for i in 0..<t.count {
                        t.data[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: base + 4 * i, as: UInt32.self)))
                    }
                case "F16":
                    for i in 0..<t.count {
                        t.data[i] = halfToFloat(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: base + 2 * i, as: UInt16.self)))
                    }
                default:  // BF16: the top half of an F32
                    for i in 0..<t.count {
                        let h = UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: base + 2 * i, as: UInt16.self))
                        t.data[i] = Float(bitPattern: UInt32(h) << 16)
                    }
                }
            }
            tensors.append((e.name, t))
        }
        return (tensors, metadata)
    }

    /// Writes tensors to `path` atomically and durably (`DurableFile`: a temporary file, fsync, rename, fsync
    /// of the folder): after a crash at any instant the file is either the old one or the complete new one.
    /// Throws `.io` naming the file (a full disk says "no space left on the device"); the old file is kept.
    public static func write(_ tensors: [(name: String, tensor: Tensor)], metadata: [String: String] = [:],
                             to path: String) throws {
        let bytes = encode(tensors, metadata: metadata)
        do { try DurableFile.write(bytes, to: path) }
        catch let e as DurableWriteError { throw SafeTensorsError.io(path: path, reason: "cannot write: \(e.reason)") }
    }

    /// Reads a safetensors file. Throws `SafeTensorsError` (io, truncated, invalidHeader, unsupportedDType,
    /// badOffsets).
    public static func read(path: String) throws -> (tensors: [(name: String, tensor: Tensor)], metadata: [String: String]) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SafeTensorsError.io(path: path, reason: "cannot read file")
        }
        return try decode([UInt8](data), path: path)
    }

    static func intValue(_ v: Any) -> Int? {
        // JSONSerialization hands numbers back as NSNumber; reject fractions and absurd magnitudes.
        guard let n = v as? NSNumber else { return nil }
        let d = n.doubleValue
        guard d == d.rounded(), abs(d) < 9e15 else { return nil }
        return Int(d)
    }

    static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }

    /// IEEE 754 half -> single, including subnormals, infinities and NaN.
    public static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h >> 15) << 31
        let exp = Int((h >> 10) & 0x1F), mant = UInt32(h & 0x3FF)
        if exp == 0 {
            if mant == 0 { return Float(bitPattern: sign) }
            let v = Float(mant) * 0x1p-24  // subnormal: mant * 2^-24
            return sign != 0 ? -v : v
        }
        if exp == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (mant << 13)) }
        return Float(bitPattern: sign | UInt32(exp - 15 + 127) << 23 | (mant << 13))
    }
}

extension Module {
    /// Saves parameters and buffers by name to a safetensors file (atomically). Throws `SafeTensorsError.io`.
    public func save(to path: String, metadata: [String: String] = [:]) throws {
        try SafeTensors.write(stateDict(), metadata: metadata, to: path)
    }

    /// Loads parameters and buffers from a safetensors file written for this architecture. Every name must
    /// be present with the same shape and the file may hold nothing else; all checks run before anything is
    /// copied, so on error the module is unchanged. Throws `SafeTensorsError` naming the offending tensor.
    /// Returns the file's metadata.
    @discardableResult
    public func load(from path: String) throws -> [String: String] {
        let file = try SafeTensors.read(path: path)
        try load(stateDict: file.tensors, source: path)
        return file.metadata
    }

    /// Copies named tensors into this module's parameters and buffers (same checks as `load(from:)`).
    public func load(stateDict tensors: [(name: String, tensor: Tensor)], source: String = "<state dict>") throws {
        var byName: [String: Tensor] = [:]
        for (n, t) in tensors { byName[n] = t }
        let mine = stateDict()
        var plan: [(Tensor, Tensor)] = []
        for (name, t) in mine {
            guard let src = byName.removeValue(forKey: name) else {
                throw SafeTensorsError.missingTensor(path: source, tensor: name)
            }
            guard src.shape == t.shape else {
                throw SafeTensorsError.shapeMismatch(path: source, tensor: name, expected: t.shape, found: src.shape)
            }
            plan.append((t, src))
        }
        if let extra = byName.keys.sorted().first {
            throw SafeTensorsError.unexpectedTensor(path: source, tensor: extra)
        }
        for (dst, src) in plan { dst.copyValues(from: src) }
    }
}
