import Foundation

/// How the path integral of integrated gradients over alpha in [0, 1] is approximated.
public enum Quadrature: String, Codable, Sendable, CaseIterable {
    /// Gauss-Legendre nodes and weights mapped to [0, 1] (Captum's default, "gausslegendre"): exact for
    /// polynomials of degree 2n - 1 in alpha, so far fewer steps reach a small convergence delta.
    case gaussLegendre = "gl"
    /// Riemann trapezoid rule on n equally spaced points including both ends (Captum's "riemann_trapezoid").
    case trapezoid
}

/// Points alpha_s in [0, 1] and weights w_s (summing to 1) of a quadrature rule with `steps` points:
/// integral_0^1 f(alpha) d alpha ~ sum_s w_s f(alpha_s).
public struct QuadratureRule: Sendable, Equatable {
    /// Interpolation points in [0, 1], ascending.
    public let alphas: [Double]
    /// Weights, same count, sum 1.
    public let weights: [Double]

    /// The rule of `kind` with `steps` points.
    /// - Throws: `AttributionError.invalidOption(name: "steps")` for fewer than 1 (Gauss-Legendre) or 2
    ///   (trapezoid) points, or more than 4,096.
    public init(_ kind: Quadrature, steps: Int) throws {
        let minimum = kind == .gaussLegendre ? 1 : 2
        guard steps >= minimum && steps <= 4096 else {
            throw AttributionError.invalidOption(name: "steps", reason: "\(kind.rawValue) needs \(minimum)...4096 steps, got \(steps)")
        }
        switch kind {
        case .gaussLegendre:
            let (x, w) = Self.gaussLegendre(steps)
            alphas = x.map { ($0 + 1) / 2 }
            weights = w.map { $0 / 2 }
        case .trapezoid:
            let h = 1 / Double(steps - 1)
            alphas = (0..<steps).map { Double($0) * h }
            weights = (0..<steps).map { $0 == 0 || $0 == steps - 1 ? h / 2 : h }
        }
    }

    /// Nodes (ascending, in [-1, 1]) and weights of the n-point Gauss-Legendre rule: Newton's method on
    /// P_n from Chebyshev-like starting points, P_n and P_n' by the three-term recurrence.
    static func gaussLegendre(_ n: Int) -> ([Double], [Double]) {
        var x = [Double](repeating: 0, count: n), w = x
        for i in 0..<((n + 1) / 2) {
            var z = cos(Double.pi * (Double(i) + 0.75) / (Double(n) + 0.5))
            var dp = 0.0
            for _ in 0..<100 {
                var p0 = 1.0, p1 = 0.0
                for j in 1...n {
                    let p2 = p1
                    p1 = p0
                    p0 = ((2 * Double(j) - 1) * z * p1 - (Double(j) - 1) * p2) / Double(j)
                }
                // p0 = P_n(z), p1 = P_{n-1}(z).
                dp = Double(n) * (z * p0 - p1) / (z * z - 1)
                let dz = p0 / dp
                z -= dz
                if abs(dz) < 1e-15 { break }
            }
            x[i] = -z; x[n - 1 - i] = z
            w[i] = 2 / ((1 - z * z) * dp * dp); w[n - 1 - i] = w[i]
        }
        return (x, w)
    }
}
