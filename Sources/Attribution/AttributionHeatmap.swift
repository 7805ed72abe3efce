import Foundation
import GraphNet
import Retina
import VesselGraph

/// How a heatmap is drawn.
public struct HeatmapOptions: Sendable, Equatable {
    /// Magnification of the image (1-4): each image pixel becomes scale x scale picture pixels.
    public var scale: Int = 2
    /// Number of structures outlined and numbered (by |score|).
    public var topK: Int = 5
    /// Whether to add the legend panel at the right (class, colour bar, the numbered structures).
    public var legend: Bool = true

    /// The defaults (2x, top 5, legend on).
    public init() {}
}

/// Integrated-gradients node scores painted onto the nodes' pixel footprints over the grey OCTA image.
///
/// Red = the structure pushes the explained class's logit up (towards the class); blue = it pushes it down
/// (against). Opacity grows with |score| relative to the 98th percentile of |node score| in this graph (so
/// one extreme node does not wash out the rest); nodes under 3% of that stay unpainted so the image shows
/// through. Intercapillary areas and the FAZ are painted lighter than vessel segments (they are large).
/// The top-k structures are outlined in yellow and numbered; the legend lists them with their score and
/// the feature that contributes most.
public enum AttributionHeatmap {
    /// Towards / against colours.
    static let towards: (UInt8, UInt8, UInt8) = (235, 50, 30)
    static let against: (UInt8, UInt8, UInt8) = (30, 110, 255)
    static let outline: (UInt8, UInt8, UInt8) = (255, 225, 0)

    /// The heatmap picture.
    /// - Parameters:
    ///   - image: the OCTA image the graph was built from (grey background).
    ///   - graph: the graph, with node footprints (rebuild it from the image if it came from a cache).
    ///   - attribution: scores of that graph.
    /// - Throws: `AttributionError.cannotDraw` if the graph has no footprints, its size differs from the
    ///   image's, or the attribution has other node counts.
    public static func render(image: GrayImage, graph: OCTAGraph, attribution: GraphAttribution,
                              options: HeatmapOptions = HeatmapOptions()) throws -> RGBImage {
        let w = image.width, h = image.height, k = min(4, max(1, options.scale))
        guard graph.widthPX == w && graph.heightPX == h else {
            throw AttributionError.cannotDraw(reason: "graph is \(graph.widthPX)x\(graph.heightPX) px, image \(w)x\(h) px")
        }
        for t in NodeType.allCases {
            let ns = t.nodes(of: graph)
            guard let a = attribution.nodeTypes[t.name], a.nodeScores.count == ns.count else {
                throw AttributionError.cannotDraw(reason: "attribution has \(attribution.nodeTypes[t.name]?.nodeScores.count ?? 0) \(t.name) nodes, graph \(ns.count)")
            }
            if ns.count > 0 && ns.footprints.count != ns.count {
                throw AttributionError.cannotDraw(reason: "the graph's \(t.name) nodes have no pixel footprints (graphs from the GraphNet cache drop them; rebuild the graph from the image)")
            }
        }
        let panelWidth = options.legend ? 38 * 12 + 24 : 0
        var pic = RGBImage(width: w * k + panelWidth, height: max(h * k, options.legend ? 600 : 0), fill: (18, 18, 18))
        let grey = image.bytes()
        for y in 0..<(h * k) { for x in 0..<(w * k) { let v = grey[(y / k) * w + x / k]; pic.plot(x, y, (v, v, v)) } }

        let ranked = attribution.rankedNodes()
        let magnitudes = ranked.map { abs($0.score) }.sorted()
        let reference = max(magnitudes.isEmpty ? 0 : magnitudes[min(magnitudes.count - 1, Int(Double(magnitudes.count - 1) * 0.98))], 1e-12)
        func fill(_ p: Int, _ c: (UInt8, UInt8, UInt8), _ alpha: Float) {
            let x = p % w, y = p / w
            for yy in 0..<k { for xx in 0..<k { pic.plot(x * k + xx, y * k + yy, c, alpha: alpha) } }
        }
        // Weakest first so strong structures end on top where footprints touch.
        for s in ranked.reversed() {
            let t = NodeType(name: s.nodeType)!
            let r = Float(min(1, Double(abs(s.score)) / Double(reference)))
            guard r >= 0.03 else { continue }
            let areaLike = t != .vessel
            let alpha = (areaLike ? 0.62 : 0.9) * (0.25 + 0.75 * powf(r, 0.7))
            for p in t.nodes(of: graph).footprints[s.index] where p >= 0 && Int(p) < w * h {
                fill(Int(p), s.score > 0 ? towards : against, alpha)
            }
        }
        let top = attribution.topK(options.topK)
        for (rank, s) in top.enumerated() {
            let t = NodeType(name: s.nodeType)!
            let fp = t.nodes(of: graph).footprints[s.index].map(Int.init).filter { $0 >= 0 && $0 < w * h }
            guard !fp.isEmpty else { continue }
            for q in outerRing(fp, width: w, height: h) { fill(q, outline, 1) }
            // Number at the footprint pixel nearest its centroid, nudged up-right and kept inside.
            let cx = Double(fp.reduce(0) { $0 + $1 % w }) / Double(fp.count), cy = Double(fp.reduce(0) { $0 + $1 / w }) / Double(fp.count)
            let anchor = fp.min { hypot(Double($0 % w) - cx, Double($0 / w) - cy) < hypot(Double($1 % w) - cx, Double($1 / w) - cy) }!
            let text = "\(rank + 1)"
            let lx = min(max(2, (anchor % w) * k + 3 * k), w * k - BitmapFont.textWidth(text, scale: 2) - 3)
            let ly = min(max(2, (anchor / w) * k - 10 * k), h * k - 16)
            BitmapFont.label(text, at: lx, ly, scale: 2, color: outline, on: &pic)
        }
        if options.legend { drawLegend(&pic, x0: w * k + 14, attribution: attribution, graph: graph, top: top) }
        return pic
    }

    /// The pixels just outside a footprint that touch the outside world: the 8-neighbours of the footprint that
    /// are connected (4-connected, through non-footprint pixels of the bounding box grown by one) to the
    /// box's border. Holes inside a region (vessels crossing an intercapillary area) get no outline, which
    /// keeps large outlined regions readable.
    static func outerRing(_ footprint: [Int], width w: Int, height h: Int) -> [Int] {
        let inside = Set(footprint)
        let xs = footprint.map { $0 % w }, ys = footprint.map { $0 / w }
        let x0 = max(0, xs.min()! - 1), x1 = min(w - 1, xs.max()! + 1), y0 = max(0, ys.min()! - 1), y1 = min(h - 1, ys.max()! + 1)
        let bw = x1 - x0 + 1, bh = y1 - y0 + 1
        var outside = [Bool](repeating: false, count: bw * bh)
        var stack: [Int] = []
        for by in 0..<bh { for bx in 0..<bw where by == 0 || bx == 0 || by == bh - 1 || bx == bw - 1 {
            let p = (y0 + by) * w + x0 + bx
            if !inside.contains(p) { outside[by * bw + bx] = true; stack.append(by * bw + bx) }
        } }
        while let b = stack.popLast() {
            let bx = b % bw, by = b / bw
            for (dx, dy) in [(1, 0), (-1, 0), (0, 1), (0, -1)] {
                let nx = bx + dx, ny = by + dy
                guard nx >= 0, ny >= 0, nx < bw, ny < bh, !outside[ny * bw + nx], !inside.contains((y0 + ny) * w + x0 + nx) else { continue }
                outside[ny * bw + nx] = true
                stack.append(ny * bw + nx)
            }
        }
        var ring = Set<Int>()
        for p in footprint {
            let x = p % w, y = p / w
            for dy in -1...1 { for dx in -1...1 {
                let xx = x + dx, yy = y + dy
                guard xx >= x0, yy >= y0, xx <= x1, yy <= y1, outside[(yy - y0) * bw + xx - x0] else { continue }
                ring.insert(yy * w + xx)
            } }
        }
        return ring.sorted()
    }

    /// Class, colour bar and the numbered structures.
    static func drawLegend(_ pic: inout RGBImage, x0: Int, attribution a: GraphAttribution, graph: OCTAGraph, top: [NodeScore]) {
        var y = 12
        func line(_ text: String, scale: Int = 1, color: (UInt8, UInt8, UInt8) = (235, 235, 235), gap: Int = 6) {
            BitmapFont.draw(text, at: x0, y, scale: scale, color: color, on: &pic)
            y += BitmapFont.height * scale + gap
        }
        let pTarget = a.probabilities[a.targetClass.index]
        line("INTEGRATED GRADIENTS", scale: 2)
        line("EXPLAINED CLASS: \(a.targetClass.name)", scale: 2)
        line(String(format: "PREDICTED: %@ (P = %.2f)", a.predictedClass.name, a.probabilities[a.predictedClass.index]), scale: 2)
        if a.targetClass != a.predictedClass { line(String(format: "P(%@) = %.2f", a.targetClass.name, pTarget), scale: 2) }
        y += 6
        // Colour bar: against (blue) .. none (grey) .. towards (red).
        let barWidth = 420
        for i in 0..<barWidth {
            let v = Float(i) / Float(barWidth - 1) * 2 - 1
            let c = v < 0 ? against : towards
            for yy in y..<(y + 14) {
                pic.plot(x0 + i, yy, (110, 110, 110))
                pic.plot(x0 + i, yy, c, alpha: abs(v) < 0.03 ? 0 : 0.25 + 0.75 * powf(abs(v), 0.7))
            }
        }
        y += 20
        BitmapFont.draw("AGAINST", at: x0, y, scale: 2, color: against, on: &pic)
        let tw = BitmapFont.textWidth("TOWARDS \(a.targetClass.name)", scale: 2)
        BitmapFont.draw("TOWARDS \(a.targetClass.name)", at: x0 + barWidth - tw, y, scale: 2, color: towards, on: &pic)
        y += 28
        line("YELLOW: TOP \(top.count) STRUCTURES", scale: 2, color: outline)
        line("SCORE (LOGITS), MAIN FEATURE = RAW VALUE")
        y += 4
        for (rank, s) in top.enumerated() {
            let t = NodeType(name: s.nodeType)!
            let name: String
            switch t {
            case .vessel: name = "VESSEL SEGMENT \(s.index)"
            case .ica: name = "INTERCAPILLARY AREA \(s.index)"
            case .faz: name = "FAZ"
            }
            line("\(rank + 1). \(name)", scale: 2, color: outline, gap: 4)
            let nt = a.nodeTypes[s.nodeType]!
            let row = nt.featureScores[s.index]
            let j = row.indices.max { abs(row[$0]) < abs(row[$1]) } ?? 0
            let feature = row.isEmpty ? "" : nt.featureNames[j]
            let value = t.nodes(of: graph).feature(feature, node: s.index).map { String(format: " = %.4g", $0) } ?? ""
            line(String(format: "   %+.3f  %@%@", s.score, feature, value), gap: 10)
        }
        y += 4
        let gap = a.targetLogit - a.baselineLogit
        line(String(format: "F(X) - F(BASELINE) = %+.3f LOGITS", gap), scale: 2)
        line(String(format: "CONVERGENCE DELTA = %.1e", a.convergenceDelta))
        line("\(a.steps) \(a.quadrature == .gaussLegendre ? "GAUSS-LEGENDRE" : "TRAPEZOID") STEPS, BASELINE \(a.baseline)")
        line("SYNTHETIC/RESEARCH USE, NOT A DIAGNOSIS", color: (160, 160, 160))
    }
}
