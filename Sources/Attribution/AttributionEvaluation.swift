import Foundation
import GraphNet
import Retina
import VesselGraph

/// One eye of a faithfulness / localization evaluation.
public struct EyeEvaluation: Codable, Sendable {
    /// Manifest id.
    public var id: String
    /// True stage (manifest label).
    public var trueStage: String
    /// Predicted (and explained) class.
    public var predicted: String
    /// Probability of the explained class.
    public var probability: Double
    /// |convergence delta| / |F(x) - F(x')|.
    public var relativeDelta: Double
    /// Deletion curve (top-k vs random).
    public var deletion: DeletionCurve
    /// Localization against the true dropout and lesions.
    public var localization: LocalizationScore
    /// Rank of the FAZ node among all nodes by |score| (1 = most important); nil without a FAZ node.
    public var fazRank: Int?
    /// FAZ |score| / total |node score| (0 without a FAZ node).
    public var fazShare: Double
    /// True FAZ area, mm2 (simulator).
    public var trueFAZAreaMM2: Double
    /// Number of graph nodes.
    public var nodes: Int
    /// Time of the 50-step integrated gradients, ms.
    public var integratedGradientsMS: Double
    /// Share of the total |attribution| (every input) per input group: "faz", "ica", "vessel" (node
    /// features), "edges" (edge masks), "globals" (global biomarkers); sums to 1.
    public var shares: [String: Double]
    /// Share of the total |attribution| per feature, keyed "<type>.<feature>" (|feature total| over the
    /// type's nodes) and "global.<biomarker>".
    public var featureShares: [String: Double]

    enum CodingKeys: String, CodingKey {
        case id, predicted, probability, deletion, localization, nodes
        case trueStage = "true_stage", relativeDelta = "relative_delta", fazRank = "faz_rank", fazShare = "faz_share"
        case trueFAZAreaMM2 = "true_faz_area_mm2", integratedGradientsMS = "integrated_gradients_ms"
        case shares, featureShares = "feature_shares"
    }

    /// The input-group and feature shares of |attribution| of `a`.
    static func shares(_ a: GraphAttribution) -> ([String: Double], [String: Double]) {
        var groups: [String: Double] = [:], features: [String: Double] = [:]
        for (t, n) in a.nodeTypes {
            groups[t] = n.featureScores.joined().reduce(0) { $0 + Double(abs($1)) }
            for (f, v) in n.featureTotals { features[t + "." + f] = Double(abs(v)) }
        }
        groups["edges"] = a.edgeScores.values.joined().reduce(0) { $0 + Double(abs($1)) }
        groups["globals"] = a.globalScores.reduce(0) { $0 + Double(abs($1)) }
        for (f, v) in zip(a.globalFeatureNames, a.globalScores) { features["global." + f] = Double(abs(v)) }
        let total = groups.values.reduce(0, +)
        guard total > 0 else { return (groups, features) }
        return (groups.mapValues { $0 / total }, features.mapValues { $0 / total })
    }
}

/// Aggregates of a group of eyes (one true stage, or all).
public struct EvaluationGroup: Codable, Sendable {
    /// "healthy", "npdr", "pdr" or "all".
    public var name: String
    /// Eyes in the group.
    public var eyes: Int
    /// Fraction predicted correctly.
    public var accuracy: Double
    /// Median and 90th percentile of the relative convergence delta.
    public var medianRelativeDelta: Double
    /// See `medianRelativeDelta`.
    public var p90RelativeDelta: Double
    /// Mean deletion AUC, top-k and random.
    public var deletionTopAUC: Double
    /// See `deletionTopAUC`.
    public var deletionRandomAUC: Double
    /// Fraction of eyes whose top-k deletion AUC beats random.
    public var deletionTopBeatsRandom: Double
    /// Eyes with at least one pathological vessel/ICA node (the localization denominators).
    public var eyesWithPathology: Int
    /// Pointing game: fraction of those eyes whose top node is pathological; and the random expectation.
    public var pointingGame: Double
    /// See `pointingGame`.
    public var pointingRandom: Double
    /// Mean precision@k over those eyes ("5", "10", "20"), and the random expectation (hits / candidates).
    public var precisionAtK: [String: Double]
    /// See `precisionAtK`.
    public var precisionRandom: Double
    /// Mean rank of the FAZ node (1 = top) over eyes with a FAZ node, and its median share of |attribution|.
    public var meanFAZRank: Double
    /// See `meanFAZRank`.
    public var medianFAZShare: Double
    /// Median true FAZ area, mm2.
    public var medianTrueFAZAreaMM2: Double
    /// Mean share of |attribution| per input group (see `EyeEvaluation.shares`).
    public var shares: [String: Double]
    /// The 8 features with the largest mean share of |attribution| ("<type>.<feature>", share), descending.
    public var topFeatures: [FeatureShare]

    enum CodingKeys: String, CodingKey {
        case name, eyes, accuracy
        case medianRelativeDelta = "median_relative_delta", p90RelativeDelta = "p90_relative_delta"
        case deletionTopAUC = "deletion_top_auc", deletionRandomAUC = "deletion_random_auc", deletionTopBeatsRandom = "deletion_top_beats_random"
        case eyesWithPathology = "eyes_with_pathology", pointingGame = "pointing_game", pointingRandom = "pointing_random"
        case precisionAtK = "precision_at_k", precisionRandom = "precision_random"
        case meanFAZRank = "mean_faz_rank", medianFAZShare = "median_faz_share", medianTrueFAZAreaMM2 = "median_true_faz_area_mm2"
        case shares, topFeatures = "top_features"
    }
}

/// A feature and its mean share of |attribution|.
public struct FeatureShare: Codable, Sendable, Equatable {
    /// "<type>.<feature>" or "global.<biomarker>".
    public var feature: String
    /// Mean share, 0-1.
    public var share: Double
}

/// The whole evaluation: per-eye records, per-stage groups, and the FAZ rank correlations.
public struct AttributionEvaluationReport: Codable, Sendable {
    /// Per eye.
    public var eyes: [EyeEvaluation]
    /// Per true stage, then "all".
    public var groups: [EvaluationGroup]
    /// Spearman correlation between true FAZ area and -(FAZ rank) (positive = larger FAZ ranks higher).
    public var spearmanFAZAreaVsRank: Double
    /// Spearman correlation between true FAZ area and the FAZ share of |attribution|.
    public var spearmanFAZAreaVsShare: Double
    /// IG settings used.
    public var steps: Int
    /// Deletion K and random repeats.
    public var deletionK: Int
    /// See `deletionK`.
    public var randomRepeats: Int

    enum CodingKeys: String, CodingKey {
        case eyes, groups, steps, deletionK = "deletion_k", randomRepeats = "random_repeats"
        case spearmanFAZAreaVsRank = "spearman_faz_area_vs_rank", spearmanFAZAreaVsShare = "spearman_faz_area_vs_share"
    }
}

/// Faithfulness (deletion curves) and localization (pointing game, precision@k, FAZ rank) of integrated
/// gradients on a synthetic cohort, whose simulator ground truth (dropout masks, lesions, FAZ area) the
/// paper never had. Each eye's graph is rebuilt from its image with the model's builder settings (for the
/// footprints), the predicted class is explained with 50 Gauss-Legendre steps.
public enum AttributionEvaluation {
    /// One eye's image, graph, truth and attribution, handed to `run`'s `visit` callback (e.g. to draw it).
    public typealias Visit = (CohortEntry, GrayImage, OCTAGraph, GraphAttribution) throws -> Void

    /// Evaluates every labelled entry of `manifest` in `splits` that has ground truth (meta JSON and dropout mask).
    /// - Throws: `AttributionError.badCohort` if no such entry exists or a truth file is unreadable;
    ///   image and graph errors from Retina / VesselGraph.
    public static func run(model: StagingModel, manifest: CohortManifest, splits: Set<DatasetSplit>, options: IntegratedGradientsOptions = IntegratedGradientsOptions(),
                           deletionK: Int = 20, randomRepeats: Int = 3, seed: UInt64 = 1, limit: Int? = nil,
                           progress: (Int, Int) -> Void = { _, _ in }, visit: Visit? = nil) throws -> AttributionEvaluationReport {
        var entries = manifest.entries.filter { e in
            e.label != nil && e.metaPath != nil && e.dropoutMaskPath != nil && (e.split.map { splits.contains($0) } ?? false)
        }
        if let limit { entries = Array(entries.prefix(limit)) }
        guard !entries.isEmpty else {
            throw AttributionError.badCohort(path: manifest.root, reason: "no labelled entry with ground truth (meta_path, dropout_mask_path) in splits \(splits.map(\.rawValue).sorted())")
        }
        let builder = VesselGraphBuilder(config: model.storedConfig.builder)
        let ig = IntegratedGradients(model: model)
        var eyes: [EyeEvaluation] = []
        for (n, e) in entries.enumerated() {
            let metaPath = manifest.resolve(e.metaPath!)
            guard let metaData = FileManager.default.contents(atPath: metaPath) else {
                throw AttributionError.badCohort(path: metaPath, reason: "ground-truth JSON missing")
            }
            let truth: GroundTruth
            do { truth = try JSONDecoder().decode(GroundTruth.self, from: metaData) }
            catch { throw AttributionError.badCohort(path: metaPath, reason: "unreadable ground truth: \(error)") }
            var image = try ImageIO.read(path: manifest.resolve(e.path))
            image.pixelSizeMM = (e.fovMM ?? FieldOfView.defaultMM(widthPX: image.width)) / Double(image.width)
            let dropout = try ImageIO.readMask(path: manifest.resolve(e.dropoutMaskPath!))
            let graph = try builder.build(image)
            let t0 = Date()
            let a = try ig.attribute(graph, options: options)
            let ms = Date().timeIntervalSince(t0) * 1000
            let deletion = try DeletionCurve.measure(model: model, graph: graph, attribution: a, maxK: deletionK,
                                                     randomRepeats: randomRepeats, seed: seed &+ UInt64(n))
            let loc = LocalizationScore.measure(graph: graph, attribution: a,
                                                truth: PathologyTruth(dropout: dropout, lesions: truth.lesions, pixelSizeMM: image.pixelSizeMM))
            let ranked = a.rankedNodes()
            let fazRank = ranked.firstIndex { $0.nodeType == NodeType.faz.name }.map { $0 + 1 }
            let total = a.totalAbsoluteNodeScore
            let fazShare = (a.nodeTypes["faz"]?.nodeScores.first).map { total > 0 ? Double(abs($0)) / total : 0 } ?? 0
            let gap = abs(a.targetLogit - a.baselineLogit)
            let (groupShares, featureShares) = EyeEvaluation.shares(a)
            eyes.append(EyeEvaluation(id: e.id, trueStage: e.label!.rawValue, predicted: a.predictedClass.name,
                                      probability: a.probabilities[a.targetClass.index], relativeDelta: gap > 0 ? abs(a.convergenceDelta) / gap : 0,
                                      deletion: deletion, localization: loc, fazRank: fazRank, fazShare: fazShare,
                                      trueFAZAreaMM2: truth.fazAreaMM2, nodes: ranked.count, integratedGradientsMS: ms,
                                      shares: groupShares, featureShares: featureShares))
            try visit?(e, image, graph, a)
            progress(n + 1, entries.count)
        }
        var groups = DRStage.allCases.map { s in group(s.rawValue, eyes.filter { $0.trueStage == s.rawValue }) }.filter { $0.eyes > 0 }
        groups.append(group("all", eyes))
        let withFAZ = eyes.filter { $0.fazRank != nil }
        return AttributionEvaluationReport(
            eyes: eyes, groups: groups,
            spearmanFAZAreaVsRank: spearman(withFAZ.map(\.trueFAZAreaMM2), withFAZ.map { -Double($0.fazRank!) }),
            spearmanFAZAreaVsShare: spearman(withFAZ.map(\.trueFAZAreaMM2), withFAZ.map(\.fazShare)),
            steps: options.steps, deletionK: deletionK, randomRepeats: randomRepeats)
    }

    static func group(_ name: String, _ eyes: [EyeEvaluation]) -> EvaluationGroup {
        func mean(_ v: [Double]) -> Double { v.isEmpty ? .nan : v.reduce(0, +) / Double(v.count) }
        func quantile(_ v: [Double], _ q: Double) -> Double {
            guard !v.isEmpty else { return .nan }
            let s = v.sorted()
            return s[min(s.count - 1, Int((Double(s.count - 1) * q).rounded()))]
        }
        let patho = eyes.filter { $0.localization.hits > 0 }
        var prec: [String: Double] = [:]
        for k in ["5", "10", "20"] { prec[k] = mean(patho.compactMap { $0.localization.precisionAtK[k] }) }
        let faz = eyes.filter { $0.fazRank != nil }
        return EvaluationGroup(
            name: name, eyes: eyes.count, accuracy: mean(eyes.map { $0.predicted == $0.trueStage ? 1 : 0 }),
            medianRelativeDelta: quantile(eyes.map(\.relativeDelta), 0.5), p90RelativeDelta: quantile(eyes.map(\.relativeDelta), 0.9),
            deletionTopAUC: mean(eyes.map(\.deletion.topAUC)), deletionRandomAUC: mean(eyes.map(\.deletion.randomAUC)),
            deletionTopBeatsRandom: mean(eyes.map { $0.deletion.topAUC > $0.deletion.randomAUC ? 1 : 0 }),
            eyesWithPathology: patho.count, pointingGame: mean(patho.map { $0.localization.pointingHit ? 1 : 0 }),
            pointingRandom: mean(patho.map(\.localization.randomPrecision)), precisionAtK: prec,
            precisionRandom: mean(patho.map(\.localization.randomPrecision)),
            meanFAZRank: mean(faz.map { Double($0.fazRank!) }), medianFAZShare: quantile(faz.map(\.fazShare), 0.5),
            medianTrueFAZAreaMM2: quantile(eyes.map(\.trueFAZAreaMM2), 0.5),
            shares: meanOfDictionaries(eyes.map(\.shares)),
            topFeatures: meanOfDictionaries(eyes.map(\.featureShares)).sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
                .prefix(8).map { FeatureShare(feature: $0.key, share: $0.value) })
    }

    /// Key-wise mean (a key missing from a dictionary counts as 0).
    static func meanOfDictionaries(_ d: [[String: Double]]) -> [String: Double] {
        guard !d.isEmpty else { return [:] }
        var out: [String: Double] = [:]
        for x in d { for (k, v) in x { out[k, default: 0] += v / Double(d.count) } }
        return out
    }

    /// Spearman rank correlation (average ranks for ties); NaN for fewer than 3 pairs or a constant side.
    public static func spearman(_ a: [Double], _ b: [Double]) -> Double {
        guard a.count == b.count, a.count >= 3 else { return .nan }
        func ranks(_ v: [Double]) -> [Double] {
            let order = v.indices.sorted { v[$0] < v[$1] }
            var r = [Double](repeating: 0, count: v.count)
            var i = 0
            while i < order.count {
                var j = i
                while j + 1 < order.count && v[order[j + 1]] == v[order[i]] { j += 1 }
                for k in i...j { r[order[k]] = Double(i + j) / 2 + 1 }
                i = j + 1
            }
            return r
        }
        let ra = ranks(a), rb = ranks(b)
        let ma = ra.reduce(0, +) / Double(ra.count), mb = rb.reduce(0, +) / Double(rb.count)
        var sab = 0.0, saa = 0.0, sbb = 0.0
        for i in ra.indices { sab += (ra[i] - ma) * (rb[i] - mb); saa += (ra[i] - ma) * (ra[i] - ma); sbb += (rb[i] - mb) * (rb[i] - mb) }
        return saa > 0 && sbb > 0 ? sab / (saa * sbb).squareRoot() : .nan
    }

    /// The report as markdown tables (one row per group).
    public static func markdown(_ r: AttributionEvaluationReport) -> String {
        func f(_ x: Double, _ d: Int = 3) -> String { x.isNaN ? "n/a" : String(format: "%.\(d)f", x) }
        var s = "| true stage | eyes | acc | median / p90 rel. delta | deletion AUC top-k | random | top beats random |\n|---|---|---|---|---|---|---|\n"
        for g in r.groups {
            s += "| \(g.name) | \(g.eyes) | \(f(g.accuracy, 2)) | \(String(format: "%.1e / %.1e", g.medianRelativeDelta, g.p90RelativeDelta)) | \(f(g.deletionTopAUC)) | \(f(g.deletionRandomAUC)) | \(f(g.deletionTopBeatsRandom, 2)) |\n"
        }
        s += "\n| true stage | eyes with pathology nodes | pointing game | random | P@5 | P@10 | P@20 | random P | mean FAZ rank | median FAZ share | median true FAZ mm2 |\n|---|---|---|---|---|---|---|---|---|---|---|\n"
        for g in r.groups {
            s += "| \(g.name) | \(g.eyesWithPathology) | \(f(g.pointingGame, 2)) | \(f(g.pointingRandom, 2)) | \(f(g.precisionAtK["5"] ?? .nan, 2)) | \(f(g.precisionAtK["10"] ?? .nan, 2)) | \(f(g.precisionAtK["20"] ?? .nan, 2)) | \(f(g.precisionRandom, 2)) | \(f(g.meanFAZRank, 1)) | \(f(g.medianFAZShare, 2)) | \(f(g.medianTrueFAZAreaMM2, 3)) |\n"
        }
        s += "\n| true stage | FAZ node | ICA nodes | vessel nodes | edges | global biomarkers | top features (mean share of all absolute attribution) |\n|---|---|---|---|---|---|---|\n"
        for g in r.groups {
            let top = g.topFeatures.prefix(5).map { "\($0.feature) \(f($0.share, 3))" }.joined(separator: ", ")
            s += "| \(g.name) | \(f(g.shares["faz"] ?? .nan, 3)) | \(f(g.shares["ica"] ?? .nan, 3)) | \(f(g.shares["vessel"] ?? .nan, 3)) | \(f(g.shares["edges"] ?? .nan, 3)) | \(f(g.shares["globals"] ?? .nan, 3)) | \(top) |\n"
        }
        s += "\nSpearman(true FAZ area, FAZ rank towards the top): \(f(r.spearmanFAZAreaVsRank)); Spearman(true FAZ area, FAZ share of |attribution|): \(f(r.spearmanFAZAreaVsShare))\n"
        return s
    }
}
