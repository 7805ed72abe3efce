import Retina

/// Vessel segmentation: denoise, subtract the smooth local background, threshold the local contrast at
/// Otsu's level with hysteresis, drop small objects, complete the vessels' one-pixel rims (`VesselRim`).
///
/// Local contrast (rather than raw intensity) makes the threshold follow projection artefacts and uneven
/// illumination; Otsu's level adapts it to each image's vessel density without a hand-set constant.
struct VesselSegmenter {
    let config: VesselGraphConfig

    /// The vessel mask of `image` (1 = vessel) and the denoised image it was computed from.
    func segment(_ image: GrayImage) -> (mask: [UInt8], denoised: [Float]) {
        let w = image.width, h = image.height, n = w * h
        let umPerPX = image.pixelSizeMM * 1000
        let g = GaussianBlur.apply(image.pixels, width: w, height: h, sigmaPX: config.noiseSigmaUM / umPerPX)
        let bg = GaussianBlur.apply(g, width: w, height: h, sigmaPX: config.backgroundSigmaUM / umPerPX)
        var d = [Float](repeating: 0, count: n)
        // Per-pixel writes through raw buffers (an array write per pixel paid a uniqueness check).
        d.withUnsafeMutableBufferPointer { dp in for i in 0..<n { dp[i] = g[i] - bg[i] } }
        let high = max(vesselLevel(d), Float(config.minimumContrast))
        let low = high * Float(config.hysteresisLowFraction)
        var weak = [UInt8](repeating: 0, count: n)
        weak.withUnsafeMutableBufferPointer { wk in
            d.withUnsafeBufferPointer { db in for i in 0..<n { wk[i] = db[i] > low ? 1 : 0 } }
        }
        // Hysteresis and small-object removal in one labelling pass: keep weak components that hold a strong
        // pixel and are large enough.
        let cc = ComponentLabeling(weak, width: w, height: h, eightConnected: true)
        let minPX = Int((config.minVesselObjectAreaUM2 / (umPerPX * umPerPX)).rounded(.up))
        // keep[l]: component l holds a strong pixel and is large enough (raw buffers: these loops visit every
        // pixel).
        var keep = [Bool](repeating: false, count: cc.count)
        var mask = [UInt8](repeating: 0, count: n)
        keep.withUnsafeMutableBufferPointer { kp in
            cc.labels.withUnsafeBufferPointer { lab in
                d.withUnsafeBufferPointer { db in
                    for i in 0..<n where lab[i] >= 0 && db[i] > high { kp[Int(lab[i])] = true }
                }
                for l in 0..<cc.count where cc.sizes[l] < minPX { kp[l] = false }
                mask.withUnsafeMutableBufferPointer { m in
                    for i in 0..<n {
                        let l = Int(lab[i])
                        if l >= 0 && kp[l] { m[i] = 1 }
                    }
                }
            }
        }
        // Clamped to the image size before the conversion, so no configuration value (huge, infinite, NaN:
        // max(1, NaN) is 1) can trap.
        let floorPX = min(Double(max(w, h)), max(1, (config.rimFloorRadiusUM / umPerPX).rounded()))
        mask = VesselRim.complete(mask, denoised: g, width: w, height: h, floorRadiusPX: Int(floorPX),
                                  fraction: Float(config.rimFraction))
        return (mask, g)
    }

    /// The vessel threshold on the local contrast `d`, by the configured rule.
    func vesselLevel(_ d: [Float]) -> Float {
        if config.thresholdNoiseMultiple > 0 {
            let median = OtsuThreshold.quantile(d, 0.5)
            let sigma = (median - OtsuThreshold.quantile(d, 0.25)) / 0.674
            return median + Float(config.thresholdNoiseMultiple) * sigma
        }
        let level: Float
        if config.thresholdThreeClass {
            level = OtsuThreshold.lowerThreeClassThreshold(d)
        } else {
            level = OtsuThreshold.winsorizedThreshold(d, upperQuantile: config.thresholdUpperQuantile)
        }
        return level * Float(config.thresholdFactor)
    }
}
