import Foundation

/// A linear axis over [lower, upper] with "nice" tick values (1, 2 or 5 times a power of ten), the way
/// plotting libraries choose them, and the labels to print at the ticks.
public struct AxisScale: Sendable, Equatable {
    /// Axis range, data units (lower < upper).
    public let lower: Double
    public let upper: Double
    /// Distance between ticks, data units.
    public let step: Double

    /// A scale covering `values` with about `targetTicks` intervals; the range is widened outward to whole
    /// steps. An empty or constant input gets a unit-wide range around its value; non-finite values are ignored.
    public init(covering values: [Double], targetTicks: Int = 5, includeZero: Bool = false) {
        var finite = values.filter { $0.isFinite }
        if includeZero { finite.append(0) }
        var lo = finite.min() ?? 0, hi = finite.max() ?? 1
        if hi - lo < 1e-12 { let pad = max(abs(lo) * 0.1, 0.5); lo -= pad; hi += pad }
        let raw = (hi - lo) / Double(max(1, targetTicks))
        let p = pow(10, floor(log10(raw)))
        let f = raw / p
        let nice: Double = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10
        step = nice * p
        lower = floor(lo / step + 1e-9) * step
        upper = ceil(hi / step - 1e-9) * step
    }

    /// A fixed range with a given tick step (e.g. probabilities: 0...1 step 0.25).
    public init(lower: Double, upper: Double, step: Double) {
        precondition(upper > lower && step > 0, "AxisScale: empty range or step")
        self.lower = lower; self.upper = upper; self.step = step
    }

    /// Tick values from `lower` to `upper` inclusive.
    public var ticks: [Double] {
        let n = Int(((upper - lower) / step).rounded())
        return (0...n).map { lower + Double($0) * step }
    }

    /// Fraction of the way from `lower` (0) to `upper` (1).
    public func fraction(_ v: Double) -> Double { (v - lower) / (upper - lower) }

    /// `v` printed with as many decimals as the step needs ("0.25", "10", "1.5e-05" for tiny steps).
    public func label(_ v: Double) -> String {
        let decimals = step >= 1 ? 0 : Int(ceil(-log10(step) - 1e-9))
        if decimals > 4 { return String(format: "%.1e", v) }
        let s = String(format: "%.\(decimals)f", v)
        return s.hasPrefix("-") && Double(s) == 0 ? String(s.dropFirst()) : s
    }
}
