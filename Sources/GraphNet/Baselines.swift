import Common
import Foundation
import Retina
import Tensors

/// Baseline (a): multinomial logistic regression on the z-scored global biomarkers
/// (`GraphSchema.globalBiomarkers`), trained with the same trainer, loss and split as the GNN.
public final class BiomarkerLogisticRegression: Module {
    /// Biomarker normalisation (fitted on the training graphs).
    public let statistics: FeatureStatistics
    let linear: Linear
    /// A model for `classes` classes reading the biomarkers of `statistics`.
    public init(statistics: FeatureStatistics, classes: Int, seed: UInt64) {
        self.statistics = statistics
        var rng = SeededGenerator(seed: seed, stream: 0x10C)
        linear = Linear(statistics.names.count, classes, generator: &rng)
    }
    public var localParameters: [(String, Tensor)] { [] }
    public var children: [(String, Module)] { [("linear", linear)] }

    /// Logits [graphs.count, C].
    public func logits(_ graphs: [LabeledGraph]) -> Tensor {
        let rows = graphs.flatMap { FeatureNormalizer.globalRow($0.graph, names: statistics.names) }
        return linear(Tensor(statistics.normalize(rows), shape: [graphs.count, statistics.names.count]))
    }

    /// Trains on `train` (early stopping on `val`) and returns the model and its training summary.
    /// Defaults: 300 epochs, batch 64, lr 0.02, weight decay 1e-3 (L2-like), no label smoothing, patience 40.
    /// - Throws: `GraphNetError` for empty splits or unlabelled graphs.
    public static func fit(train: [LabeledGraph], val: [LabeledGraph], classNames: [String], seed: UInt64,
                           options: TrainingOptions? = nil) throws -> (BiomarkerLogisticRegression, TrainingSummary) {
        let stats = FeatureStatistics(names: GraphSchema.globalBiomarkers,
                                      rows: train.flatMap { FeatureNormalizer.globalRow($0.graph, names: GraphSchema.globalBiomarkers) })
        let m = BiomarkerLogisticRegression(statistics: stats, classes: classNames.count, seed: seed)
        var o = options ?? TrainingOptions()
        if options == nil {
            o.epochs = 300; o.batchSize = 64; o.learningRate = 0.02; o.weightDecay = 1e-3; o.labelSmoothing = .none
            o.schedule = .cosine(minimumFraction: 0.05); o.patience = 40; o.seed = seed
        }
        let s = try ClassifierTrainer.train(module: m, classNames: classNames, trainLabels: try GraphNetTraining.labels(train),
                                            valLabels: try GraphNetTraining.labels(val), options: o) { split, idx, _ in
            m.logits(idx.map { (split == .train ? train : val)[$0] })
        }
        return (m, s)
    }
}

/// Baseline (b): a small CNN on the raw image (Tensors conv2d), same trainer, loss and split.
///
/// The image is averaged down by `downsample` (304 px -> 152 px by default) and standardised by the
/// training images' mean and standard deviation; conv 5x5/2 (8) -> ReLU -> max-pool 2 -> conv 3x3 (16) ->
/// ReLU -> max-pool 2 -> conv 3x3 (32) -> ReLU -> global mean and max -> linear.
public final class ImageCNN: Module {
    let conv1: Conv2d, conv2: Conv2d, conv3: Conv2d, fc: Linear
    /// A fresh network for `classes` classes.
    public init(classes: Int, seed: UInt64) {
        var rng = SeededGenerator(seed: seed, stream: 0xC22)
        conv1 = Conv2d(1, 8, kernel: 5, stride: 2, padding: 2, generator: &rng)
        conv2 = Conv2d(8, 16, kernel: 3, padding: 1, generator: &rng)
        conv3 = Conv2d(16, 32, kernel: 3, padding: 1, generator: &rng)
        fc = Linear(64, classes, generator: &rng)
    }
    public var localParameters: [(String, Tensor)] { [] }
    public var children: [(String, Module)] { [("conv1", conv1), ("conv2", conv2), ("conv3", conv3), ("fc", fc)] }

    /// Logits [N, C] of images x [N, 1, H, W].
    public func callAsFunction(_ x: Tensor) -> Tensor {
        var h = conv1(x).relu().maxPool2d(kernel: 2)
        h = conv2(h).relu().maxPool2d(kernel: 2)
        h = conv3(h).relu()
        let n = h.shape[0], c = h.shape[1]
        let flat = h.reshaped([n, c, -1])
        let mean = flat.mean(axis: 2)
        // Global max via segmentMax over the transposed [N*HW, C] rows of each image.
        let hw = flat.shape[2]
        let rows = flat.transposed(1, 2).reshaped([n * hw, c])
        let mx = rows.segmentMax((0..<(n * hw)).map { $0 / hw }, segments: n)
        return fc(Tensor.concat([mean, mx], axis: 1))
    }

    /// Reads and downsamples the images of `graphs` (by averaging `factor` x `factor` blocks), in parallel.
    /// - Throws: `CohortError.badImage` naming an unreadable image or one whose size differs from the first.
    public static func loadImages(_ graphs: [LabeledGraph], factor: Int) throws -> (pixels: [[Float]], side: Int) {
        let box = ImageBox(count: graphs.count)
        Parallel.forEach(graphs.count, minChunk: 8) { r in
            for i in r {
                box.set(i, Result {
                    let img = try ImageIO.read(path: graphs[i].imagePath)
                    return Self.downsample(img, factor: factor)
                }.mapError { CohortError.badImage(path: graphs[i].imagePath, reason: "\($0)") as Error })
            }
        }
        var out: [[Float]] = [], side = -1
        for (i, r) in box.values.enumerated() {
            let (px, s) = try r!.get()
            if side < 0 { side = s }
            guard s == side else { throw CohortError.badImage(path: graphs[i].imagePath, reason: "image size differs from the cohort's first image") }
            out.append(px)
        }
        return (out, side)
    }

    static func downsample(_ img: GrayImage, factor: Int) -> ([Float], Int) {
        let side = min(img.width, img.height) / factor
        var out = [Float](repeating: 0, count: side * side)
        let inv = 1 / Float(factor * factor)
        for y in 0..<side {
            for x in 0..<side {
                var s: Float = 0
                for dy in 0..<factor { for dx in 0..<factor { s += img.pixels[(y * factor + dy) * img.width + x * factor + dx] } }
                out[y * side + x] = s * inv
            }
        }
        return (out, side)
    }

    /// Trains on `train` (early stopping on `val`); returns the model, a function giving test logits for
    /// other graphs' images, and the summary. Defaults: 40 epochs, batch 16, lr 3e-3, patience 10.
    /// - Throws: `GraphNetError` / `CohortError.badImage`.
    public static func fit(train: [LabeledGraph], val: [LabeledGraph], classNames: [String], seed: UInt64,
                           downsample factor: Int = 2, options: TrainingOptions? = nil,
                           progress: (EpochReport) -> Void = { _ in }) throws -> (ImageCNN, ImageStandardizer, TrainingSummary) {
        let (trainPx, side) = try loadImages(train, factor: factor)
        let (valPx, _) = try loadImages(val, factor: factor)
        let std = ImageStandardizer(images: trainPx, side: side, factor: factor)
        let m = ImageCNN(classes: classNames.count, seed: seed)
        var o = options ?? TrainingOptions()
        if options == nil {
            o.epochs = 40; o.batchSize = 16; o.learningRate = 3e-3; o.weightDecay = 1e-4; o.labelSmoothing = .none
            o.schedule = .cosine(minimumFraction: 0.05); o.patience = 10; o.seed = seed
        }
        let s = try ClassifierTrainer.train(module: m, classNames: classNames, trainLabels: try GraphNetTraining.labels(train),
                                            valLabels: try GraphNetTraining.labels(val), options: o, logits: { split, idx, _ in
            m(std.tensor(idx.map { (split == .train ? trainPx : valPx)[$0] }))
        }, progress: progress)
        return (m, std, s)
    }
}

/// Standardises downsampled images with the training set's mean and standard deviation.
public struct ImageStandardizer: Sendable {
    /// Pixel mean and standard deviation of the training images.
    public let mean: Float, std: Float
    /// Side of the square downsampled image, px, and the downsampling factor.
    public let side: Int, factor: Int
    init(images: [[Float]], side: Int, factor: Int) {
        var s = 0.0, s2 = 0.0, n = 0.0
        for im in images { for v in im { s += Double(v); s2 += Double(v) * Double(v); n += 1 } }
        let m = s / max(n, 1)
        mean = Float(m); std = Float(max((s2 / max(n, 1) - m * m).squareRoot(), 1e-6))
        self.side = side; self.factor = factor
    }
    /// [N, 1, side, side] tensor of standardised images.
    public func tensor(_ images: [[Float]]) -> Tensor {
        Tensor(images.flatMap { $0.map { ($0 - mean) / std } }, shape: [images.count, 1, side, side])
    }
}

final class ImageBox: @unchecked Sendable {
    private(set) var values: [Result<([Float], Int), Error>?]
    private let lock = NSLock()
    init(count: Int) { values = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ r: Result<([Float], Int), Error>) { lock.lock(); values[i] = r; lock.unlock() }
}
