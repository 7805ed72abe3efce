/// The biology-informed heterogeneous graph of one OCTA image (the paper's graph, arXiv 2503.09808):
/// vessel-segment nodes, intercapillary-area (ICA) nodes and at most one foveal-avascular-zone (FAZ) node,
/// typed relations between them, and global biomarkers.
///
/// Encoded as JSON by `jsonData()` (fast, no Foundation encoder) and decodable with `JSONDecoder`; the format
/// is documented in docs/GRAPH_FORMAT.md.
public struct OCTAGraph: Codable, Sendable, Equatable {
    /// Format tag, "capillary-octa-graph/1".
    public var format: String
    /// Image width, px.
    public var widthPX: Int
    /// Image height, px.
    public var heightPX: Int
    /// Side of one pixel, mm.
    public var pixelSizeMM: Double
    /// Centre of the ETDRS grid (FAZ centroid, or the image centre without FAZ), px (x, y).
    public var gridCentrePX: [Double]
    /// Names of the sector codes used by `NodeSet.sector` (index = code).
    public var sectorNames: [String]
    /// Names of the quadrant codes used by `NodeSet.quadrant` (index = code).
    public var quadrantNames: [String]
    /// Vessel-segment nodes (one per centreline branch between branch points / free ends).
    public var vessel: NodeSet
    /// Intercapillary-area nodes (avascular components between vessels).
    public var ica: NodeSet
    /// The FAZ node (count 0 or 1).
    public var faz: NodeSet
    /// Typed edge lists.
    public var relations: [Relation]
    /// Global biomarkers by name (units in the name; see docs/GRAPH_FORMAT.md).
    public var biomarkers: [String: Double]

    /// The relation with this name ("vessel-vessel", "ica-ica", "vessel-ica", "faz-ica", "faz-vessel"), if present.
    public func relation(_ name: String) -> Relation? { relations.first { $0.name == name } }

    enum CodingKeys: String, CodingKey {
        case format, vessel, ica, faz, relations, biomarkers
        case widthPX = "width_px", heightPX = "height_px", pixelSizeMM = "pixel_size_mm"
        case gridCentrePX = "grid_centre_px", sectorNames = "sector_names", quadrantNames = "quadrant_names"
    }
}

/// One node type: a feature matrix with named columns plus where each node is.
public struct NodeSet: Codable, Sendable, Equatable {
    /// Number of nodes.
    public var count: Int
    /// Column names of `features`, with units in the name (e.g. "length_um").
    public var featureNames: [String]
    /// Row-major feature matrix, `count` x `featureNames.count`.
    public var features: [Float]
    /// Node position, px (x right, y down) and mm (same axes, origin at the top-left corner).
    public var xPX: [Float]
    /// See `xPX`.
    public var yPX: [Float]
    /// See `xPX`.
    public var xMM: [Float]
    /// See `xPX`.
    public var yMM: [Float]
    /// ETDRS sector code per node (see `OCTAGraph.sectorNames`).
    public var sector: [Int32]
    /// Quadrant code per node (see `OCTAGraph.quadrantNames`).
    public var quadrant: [Int32]
    /// Pixels of each node, as row-major indices y * width + x (for heatmaps and overlays).
    public var footprints: [[Int32]]

    /// An empty node set with these feature names.
    public init(featureNames: [String]) {
        count = 0; self.featureNames = featureNames; features = []
        xPX = []; yPX = []; xMM = []; yMM = []; sector = []; quadrant = []; footprints = []
    }

    /// Value of feature `name` for node `index`, or nil if there is no such feature or node.
    public func feature(_ name: String, node index: Int) -> Float? {
        guard let j = featureNames.firstIndex(of: name), index >= 0, index < count else { return nil }
        return features[index * featureNames.count + j]
    }

    /// The column of feature `name` for all nodes (empty if unknown).
    public func column(_ name: String) -> [Float] {
        guard let j = featureNames.firstIndex(of: name) else { return [] }
        return (0..<count).map { features[$0 * featureNames.count + j] }
    }

    enum CodingKeys: String, CodingKey {
        case count, features, sector, quadrant, footprints
        case featureNames = "feature_names", xPX = "x_px", yPX = "y_px", xMM = "x_mm", yMM = "y_mm"
    }
}

/// A typed edge list: edge k goes from node `source[k]` of type `sourceType` to node `target[k]` of type
/// `targetType`. Same-type relations hold both directions; cross-type ones one direction (reverse by swapping).
public struct Relation: Codable, Sendable, Equatable {
    /// Relation name, "<sourceType>-<targetType>".
    public var name: String
    /// Node type of the sources ("vessel", "ica" or "faz").
    public var sourceType: String
    /// Node type of the targets.
    public var targetType: String
    /// Source node indices.
    public var source: [Int32]
    /// Target node indices.
    public var target: [Int32]
    /// Number of edges.
    public var count: Int { source.count }

    enum CodingKeys: String, CodingKey {
        case name, source, target
        case sourceType = "source_type", targetType = "target_type"
    }
}
