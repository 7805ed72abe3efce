/// Why an image could not be turned into a graph.
public enum VesselGraphError: Error, Equatable, CustomStringConvertible {
    /// The image is smaller than `minimumSidePX` on a side.
    case imageTooSmall(width: Int, height: Int, minimumSidePX: Int)
    /// The pixel size is zero, negative or not finite.
    case invalidPixelSize(Double)
    /// Some pixels are NaN or infinite.
    case nonFinitePixels(count: Int)
    /// A supplied vessel mask does not match the image size.
    case maskSizeMismatch(imageWidth: Int, imageHeight: Int, maskWidth: Int, maskHeight: Int)

    /// A message naming the problem and what to do about it.
    public var description: String {
        switch self {
        case .imageTooSmall(let w, let h, let m):
            return "image is \(w)x\(h) px; VesselGraph needs at least \(m) px on each side"
        case .invalidPixelSize(let s):
            return "pixel size \(s) mm is not a positive number; pass the field of view (--fov-mm)"
        case .nonFinitePixels(let n):
            return "\(n) pixels are NaN or infinite; intensities must be finite (0-1)"
        case .maskSizeMismatch(let iw, let ih, let mw, let mh):
            return "vessel mask is \(mw)x\(mh) px but the image is \(iw)x\(ih) px"
        }
    }
}
