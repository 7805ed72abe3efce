/// Global intensity statistics of an image (the "shortcut" features a classifier could cheat with).
public enum GlobalImageStatistics {
    /// Names of the values `compute` returns, in order.
    public static let names = ["mean", "std", "p01", "p05", "p10", "p25", "p50", "p75", "p90", "p95", "p99"]

    /// Mean, standard deviation and intensity percentiles (nearest rank) of all pixels.
    public static func compute(_ image: GrayImage) -> [Double] {
        let v = image.pixels.map(Double.init).sorted()
        guard !v.isEmpty else { return [Double](repeating: 0, count: names.count) }
        let n = Double(v.count)
        let mean = v.reduce(0, +) / n
        let sd = (v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / n).squareRoot()
        func pct(_ p: Double) -> Double { v[min(v.count - 1, max(0, Int((p / 100 * n).rounded(.down))))] }
        return [mean, sd, pct(1), pct(5), pct(10), pct(25), pct(50), pct(75), pct(90), pct(95), pct(99)]
    }
}

/// How well one scalar separates the stages: the best 1-D threshold classifier.
public enum StageSeparability {
    /// Balanced accuracy (mean per-class recall) of the best classifier that cuts `values` at two
    /// thresholds into three intervals and gives each interval a stage (every assignment of stages to
    /// intervals is tried, so either direction counts). Chance level is 1/3 for three stages.
    public static func bestThresholdBalancedAccuracy(values: [Double], labels: [DRStage]) -> Double {
        precondition(values.count == labels.count, "bestThresholdBalancedAccuracy: \(values.count) values, \(labels.count) labels")
        let order = values.indices.sorted { values[$0] < values[$1] }
        let y = order.map { labels[$0].index }
        let v = order.map { values[$0] }
        let n = y.count
        var total = [0, 0, 0]
        for c in y { total[c] += 1 }
        // prefix[k][c]: samples of class c among the k smallest values.
        var prefix = [[Int]](repeating: [0, 0, 0], count: n + 1)
        for k in 0..<n { prefix[k + 1] = prefix[k]; prefix[k + 1][y[k]] += 1 }
        // Cuts only between distinct values (ties cannot be split by a threshold).
        var cuts = [0]
        for k in 1..<max(1, n) where v[k] != v[k - 1] { cuts.append(k) }
        cuts.append(n)
        let perms = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]]
        let present = (0..<3).filter { total[$0] > 0 }
        var best = 0.0
        for (ai, a) in cuts.enumerated() {
            for b in cuts[ai...] {
                for p in perms {
                    // Interval 0: [0, a), 1: [a, b), 2: [b, n) get classes p[0], p[1], p[2].
                    var recall = 0.0
                    for c in present {
                        var correct = 0
                        if p[0] == c { correct += prefix[a][c] }
                        if p[1] == c { correct += prefix[b][c] - prefix[a][c] }
                        if p[2] == c { correct += prefix[n][c] - prefix[b][c] }
                        recall += Double(correct) / Double(total[c])
                    }
                    best = max(best, recall / Double(present.count))
                }
            }
        }
        return best
    }
}
