import Foundation

/// Soft targets for the cross-entropy.
public enum LabelSmoothing: Codable, Sendable, Equatable {
    /// One-hot targets.
    case none
    /// (1 - epsilon) one-hot + epsilon / C.
    case uniform(epsilon: Float)
    /// q_c proportional to exp(-(c - y)^2 / (2 sigma^2)): ordinal smoothing, a PDR eye's target leaks a
    /// little to NPDR and almost nothing to healthy (the predecessor used sigma 0.4).
    case gaussian(sigma: Float)

    /// Parses "none", "uniform:0.1" or "gaussian:0.4".
    /// - Throws: `GraphNetError.invalidOption(name: "label-smoothing", ...)`.
    public init(parsing text: String) throws {
        let parts = text.split(separator: ":").map(String.init)
        let bad = GraphNetError.invalidOption(name: "label-smoothing", reason: "expected none, uniform:EPS (0 <= EPS < 1) or gaussian:SIGMA (SIGMA > 0), got \"\(text)\"")
        switch parts.first {
        case "none" where parts.count == 1: self = .none
        case "uniform" where parts.count == 2:
            guard let e = Float(parts[1]), e >= 0, e < 1 else { throw bad }
            self = .uniform(epsilon: e)
        case "gaussian" where parts.count == 2:
            guard let s = Float(parts[1]), s > 0, s.isFinite else { throw bad }
            self = .gaussian(sigma: s)
        default: throw bad
        }
    }

    /// Target distribution (C values summing to 1) for true class `y`.
    public func target(_ y: Int, classes c: Int) -> [Float] {
        switch self {
        case .none: return (0..<c).map { $0 == y ? 1 : 0 }
        case .uniform(let e): return (0..<c).map { ($0 == y ? 1 - e : 0) + e / Float(c) }
        case .gaussian(let s):
            let w = (0..<c).map { Float(exp(-Double(($0 - y) * ($0 - y)) / (2 * Double(s) * Double(s)))) }
            let z = w.reduce(0, +)
            return w.map { $0 / z }
        }
    }
}

/// Learning-rate schedule over epochs.
public enum LearningRateSchedule: Codable, Sendable, Equatable {
    /// lr = base * gamma^epoch (the predecessor used 0.95).
    case exponential(gamma: Float)
    /// Half-cosine from base to base * minimumFraction over the maximum number of epochs.
    case cosine(minimumFraction: Float)

    /// Parses "exponential:0.95" or "cosine:0.01".
    /// - Throws: `GraphNetError.invalidOption(name: "schedule", ...)`.
    public init(parsing text: String) throws {
        let parts = text.split(separator: ":").map(String.init)
        let bad = GraphNetError.invalidOption(name: "schedule", reason: "expected exponential:GAMMA (0 < GAMMA <= 1) or cosine:MINFRACTION (0...1), got \"\(text)\"")
        guard parts.count == 2, let v = Float(parts[1]) else { throw bad }
        switch parts[0] {
        case "exponential" where v > 0 && v <= 1: self = .exponential(gamma: v)
        case "cosine" where v >= 0 && v <= 1: self = .cosine(minimumFraction: v)
        default: throw bad
        }
    }

    /// Learning rate of epoch `epoch` (0-based) out of `epochs`.
    public func rate(base: Float, epoch: Int, epochs: Int) -> Float {
        switch self {
        case .exponential(let g): return base * powf(g, Float(epoch))
        case .cosine(let m):
            let t = Float(epoch) / Float(max(epochs - 1, 1))
            return base * (m + (1 - m) * 0.5 * (1 + cosf(.pi * t)))
        }
    }
}

/// Options of a training run (stored with the model).
public struct TrainingOptions: Codable, Sendable, Equatable {
    /// Maximum number of epochs.
    public var epochs: Int = 60
    /// Graphs per mini-batch.
    public var batchSize: Int = 32
    /// AdamW base learning rate.
    public var learningRate: Float = 5e-3
    /// AdamW decoupled weight decay.
    public var weightDecay: Float = 5e-5
    /// Schedule of the learning rate.
    public var schedule: LearningRateSchedule = .exponential(gamma: 0.95)
    /// Soft targets.
    public var labelSmoothing: LabelSmoothing = .gaussian(sigma: 0.4)
    /// Weight each class by N / (C n_c) so the minority stage counts as much as the majority.
    public var classWeighted: Bool = true
    /// Stop when validation balanced accuracy has not improved for this many epochs (the best epoch's
    /// weights are restored).
    public var patience: Int = 15
    /// Clip the global gradient norm to this (0 = off).
    public var gradientClip: Float = 5
    /// Seed of weight init, shuffling and dropout.
    public var seed: UInt64 = 1

    /// The defaults.
    public init() {}

    /// Checks the numbers.
    /// - Throws: `GraphNetError.invalidOption` naming the option.
    public func validate() throws {
        if epochs < 1 { throw GraphNetError.invalidOption(name: "epochs", reason: "must be >= 1, got \(epochs)") }
        if batchSize < 1 { throw GraphNetError.invalidOption(name: "batch-size", reason: "must be >= 1, got \(batchSize)") }
        if !(learningRate > 0 && learningRate.isFinite) { throw GraphNetError.invalidOption(name: "lr", reason: "must be > 0, got \(learningRate)") }
        if !(weightDecay >= 0) { throw GraphNetError.invalidOption(name: "weight-decay", reason: "must be >= 0") }
        if patience < 1 { throw GraphNetError.invalidOption(name: "patience", reason: "must be >= 1, got \(patience)") }
    }
}
