import Common
import Foundation
import Tensors

/// Auxiliary training signal for the vision encoder: a linear probe on the mean of an image's visual tokens
/// predicts the image's stage (class-balanced cross-entropy) and, when the dataset carries them, the graph
/// biomarkers the teacher measured on it (standardised, mean squared error).
///
/// Why: the language-model loss reaches the encoder only through the one stage token of each diagnosis
/// answer (and, in stage 2, through answers that are mostly about other things), which on a few hundred
/// images from scratch leaves the encoder close to untrained. The probe gives it a direct gradient. With a
/// label-only dataset (FT) the probe sees only the stage; with the graph-knowledge dataset (GFT) it also
/// sees the FAZ area, circularity, perfusion and vessel density the vessel graph measured: the graph's
/// knowledge distilled into the image encoder. The probe is not part of the saved model (generation never
/// uses it).
public final class VisualDistillation: Module {
    /// Biomarker names predicted, in output order after the 3 stage logits.
    public let names: [String]
    /// Mean and standard deviation of each biomarker over the training images (the regression targets are
    /// standardised with them).
    public let mean: [Float], std: [Float]
    /// Per training image: stage index (-1 unknown) and standardised biomarkers.
    let stages: [Int], values: [[Float]]
    /// Balanced class weights of the stage loss (inverse class frequency, mean 1 over the classes present).
    let classWeights: [Float]
    /// [dModel] -> [3 + names.count].
    public let head: Linear

    /// A probe for the images of `corpus`: biomarkers present for every image are predicted (none for a
    /// label-only dataset). Seeded init.
    public init(corpus: EncodedCorpus, dModel: Int, seed: UInt64) {
        var g = SeededGenerator(seed: seed, stream: 77)
        let common = corpus.measurements.dropFirst().reduce(Set(corpus.measurements.first?.keys.map { $0 } ?? [])) {
            $0.intersection($1.keys)
        }
        let names = common.sorted()
        var mean = [Float](repeating: 0, count: names.count), std = [Float](repeating: 1, count: names.count)
        for (j, name) in names.enumerated() {
            let v = corpus.measurements.map { $0[name]! }
            let m = v.reduce(0, +) / Double(max(1, v.count))
            let s = (v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(max(1, v.count))).squareRoot()
            mean[j] = Float(m); std[j] = Float(s > 1e-12 ? s : 1)
        }
        self.names = names; self.mean = mean; self.std = std
        values = corpus.measurements.map { ms in names.enumerated().map { j, n in (Float(ms[n]!) - mean[j]) / std[j] } }
        stages = corpus.stages
        var counts = [Float](repeating: 0, count: 3)
        for s in stages where s >= 0 { counts[s] += 1 }
        let present = counts.filter { $0 > 0 }.count
        let total = counts.reduce(0, +)
        classWeights = counts.map { $0 > 0 ? total / (Float(present) * $0) : 0 }
        head = Linear(dModel, 3 + names.count, generator: &g)
    }

    public var localParameters: [(String, Tensor)] { [] }
    public var children: [(String, Module)] { [("head", head)] }

    /// Auxiliary loss of a batch: stage cross-entropy plus the mean squared error of the standardised
    /// biomarkers (when there are any), from the visual tokens `visual` [B, K, d] of images `imageIndices`.
    public func loss(visual: Tensor, imageIndices: [Int]) -> Tensor {
        let b = imageIndices.count
        let out = head(visual.mean(axis: 1))
        let stageLogits = names.isEmpty ? out : out.slice(axis: 1, 0..<3)
        var total = Tensor.crossEntropy(logits: stageLogits, targets: imageIndices.map { stages[$0] },
                                        classWeights: classWeights)
        if !names.isEmpty {
            let target = Tensor(imageIndices.flatMap { values[$0] }, shape: [b, names.count])
            total = total + (out.slice(axis: 1, 3..<(3 + names.count)) - target).square().mean()
        }
        return total
    }
}
