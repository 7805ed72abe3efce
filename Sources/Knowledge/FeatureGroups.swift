/// Which attributed features speak for which finding subject. The shares are signed fractions of the total
/// |feature attribution| (`AttributionEvidence.featureTotals`, node types "vessel", "ica", "faz", "global").
enum FeatureGroups {
    /// (node type, feature name) pairs per subject; the feature names are the VesselGraph builder's columns
    /// and GraphNet's global biomarkers (docs/GRAPH_FORMAT.md).
    static let members: [FindingSubject: [(String, String)]] = [
        .fazArea: [("faz", "area_mm2"), ("faz", "perimeter_mm"), ("faz", "max_feret_mm"),
                   ("global", "faz_area_mm2"), ("global", "faz_perimeter_mm"), ("global", "faz_found")],
        .fazBorder: [("faz", "circularity"), ("faz", "solidity"), ("faz", "eccentricity"), ("global", "faz_circularity")],
        .perfusionDensity: [("global", "perfusion_density"), ("ica", "area_um2"), ("ica", "equivalent_diameter_um"),
                            ("ica", "perimeter_um"), ("ica", "major_axis_um"), ("ica", "minor_axis_um"), ("ica", "max_feret_um"),
                            ("global", "ica_area_mean_um2"), ("global", "ica_count")],
        .vesselDensity: [("global", "skeleton_length_density_mm_per_mm2"), ("vessel", "length_um"), ("vessel", "chord_um"),
                         ("global", "vessel_segment_count"), ("global", "bifurcation_count"), ("global", "endpoint_count")],
        .tortuosity: [("vessel", "curveness"), ("global", "vessel_curveness_mean")],
        .caliber: [("vessel", "radius_mean_um"), ("vessel", "radius_std_um"), ("vessel", "radius_min_um"),
                   ("vessel", "radius_max_um"), ("vessel", "area_um2"), ("global", "vessel_radius_mean_um")],
        .complexity: [("global", "fractal_dimension")],
    ]

    /// Signed share of `subject`'s features in the total |feature attribution| of `e` (0 for subjects without
    /// features or evidence without attribution).
    static func share(of subject: FindingSubject, in e: AttributionEvidence) -> Double {
        let total = e.totalAbsoluteFeatureAttribution
        guard total > 0, let m = members[subject] else { return 0 }
        return m.reduce(0.0) { $0 + Double(e.featureTotals[$1.0]?[$1.1] ?? 0) } / total
    }
}
