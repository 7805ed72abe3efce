/// The ETDRS grid on the macula: centre disc of 1 mm diameter, inner ring to 3 mm, outer ring to 6 mm, the
/// rings split by the diagonals into superior, nasal, inferior and temporal sectors.
public struct ETDRSGrid: Sendable {
    /// Sector names by code: C, IS, IN, II, IT (inner ring), OS, ON, OI, OT (outer ring), X (beyond 6 mm).
    public static let sectorNames = ["C", "IS", "IN", "II", "IT", "OS", "ON", "OI", "OT", "X"]
    /// Quadrant names by code (split by the horizontal and vertical axes through the centre).
    public static let quadrantNames = ["superonasal", "superotemporal", "inferonasal", "inferotemporal"]

    /// Grid centre, px.
    public var centreX: Double
    /// Grid centre, px.
    public var centreY: Double
    /// Pixel size, mm.
    public var pixelSizeMM: Double
    /// +1 when nasal is to the right of the image (right eye), -1 otherwise.
    public var nasalSign: Double

    /// A grid centred at (centreX, centreY) px.
    public init(centreX: Double, centreY: Double, pixelSizeMM: Double, laterality: VesselGraphConfig.Laterality) {
        self.centreX = centreX; self.centreY = centreY; self.pixelSizeMM = pixelSizeMM
        nasalSign = laterality == .od ? 1 : -1
    }

    /// Sector code of the point (x, y) px.
    public func sector(x: Double, y: Double) -> Int {
        let dx = (x - centreX) * pixelSizeMM * nasalSign, up = (centreY - y) * pixelSizeMM
        let r2 = dx * dx + up * up
        if r2 < 0.25 { return 0 }
        if r2 >= 9 { return 9 }
        // Diagonal split without trigonometry: the larger of |dx|, |up| decides the sector.
        let s: Int
        if abs(up) >= abs(dx) { s = up > 0 ? 0 : 2 } else { s = dx > 0 ? 1 : 3 }
        return (r2 < 2.25 ? 1 : 5) + s
    }

    /// Quadrant code of the point (x, y) px.
    public func quadrant(x: Double, y: Double) -> Int {
        let nasal = (x - centreX) * nasalSign >= 0, superior = y <= centreY
        return superior ? (nasal ? 0 : 1) : (nasal ? 2 : 3)
    }
}
