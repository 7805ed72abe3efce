import Foundation
import Retina

/// The demo's visual report: run facts, one card per test image (image, graph overlay, IG heatmap, GNN
/// stage with probability bars, the student's explanation, the truth, the top attributed structures), the
/// metrics table (GNN, baselines, student FT vs GFT), confusion matrices and training curves, and a table of
/// which inputs were found. Everything comes from `ReportInputs`; anything absent is shown as missing.
public enum DemoReport {
    /// The page for `inputs`.
    /// - Throws: `ImageIOError` when a chart cannot be PNG-encoded (programmer error in practice).
    public static func html(_ inputs: ReportInputs, title: String = "Capillary demo report") throws -> String {
        var doc = HTMLDocument(title: title)
        doc.append(HTMLDocument.text("h1", title))
        doc.append(facts(inputs))
        let missing = missingInputs(inputs)
        if !missing.isEmpty {
            doc.append(HTMLDocument.element("div", "<strong>Missing inputs:</strong> " + HTMLDocument.escape(missing.joined(separator: "; "))
                + ". The sections that need them say so below; nothing was filled in.", cssClass: "notice"))
        }
        doc.append(HTMLDocument.text("h2", "Metrics on the held-out test split"))
        doc.append(metricsTable(inputs))
        doc.append(HTMLDocument.text("h2", "Test images"))
        for c in inputs.cases { doc.append(try caseCard(c)) }
        doc.append(HTMLDocument.text("h2", "Confusion matrices"))
        doc.append(try confusionSection(inputs))
        doc.append(HTMLDocument.text("h2", "Training curves"))
        doc.append(try curvesSection(inputs))
        doc.append(HTMLDocument.text("h2", "Inputs"))
        doc.append(HTMLDocument.table(header: ["file in " + inputs.dir, "status"], rows: inputs.statuses.map { [$0.file, describe($0.status)] }))
        return doc.render()
    }

    /// Human-readable list of what is missing: absent/unreadable files and, per part, the cases lacking it.
    public static func missingInputs(_ inputs: ReportInputs) -> [String] {
        var out = inputs.statuses.compactMap { s -> String? in
            switch s.status {
            case .found: return nil
            case .missing: return "\(s.file) (not found)"
            case .unreadable(let why): return "\(s.file) (\(why))"
            }
        }
        var byPart: [String: Int] = [:]
        for c in inputs.cases { for p in c.missingParts { byPart[p, default: 0] += 1 } }
        for p in byPart.keys.sorted() { out.append("\(p) in \(byPart[p]!) of \(inputs.cases.count) case(s)") }
        return out
    }

    static func describe(_ s: InputStatus) -> String {
        switch s {
        case .found(let d): return "found: \(d)"
        case .missing: return "missing"
        case .unreadable(let r): return "unreadable: \(r)"
        }
    }

    static func fmt(_ v: Double?, _ digits: Int = 3) -> String { v.map { String(format: "%.\(digits)f", $0) } ?? "n/a" }

    static func facts(_ r: ReportInputs) -> String {
        var rows: [(String, String)] = [("demo folder", r.dir), ("test images shown", "\(r.cases.count)")]
        if let e = r.gnnEvaluation {
            if let m = e.modelPath { rows.append(("GNN model", m)) }
            let n = e.results.first?.count.map(String.init) ?? "n/a"
            rows.append(("evaluated split", "\(e.split ?? "?") (\(n) images)"))
        }
        if let last = r.gnnEpochs.last {
            rows.append(("GNN training", "\(last.epoch) epochs, best epoch \(r.gnnBestEpoch.map(String.init) ?? "n/a")"))
        }
        for v in ReportInputs.studentVariants {
            if let s = r.vlmSteps[v.name], let last = s.last {
                rows.append(("student \(v.name) training", "\(last.step) steps, final loss \(String(format: "%.3g", last.loss)), \(fmt(last.textTokensPerSecond, 0)) text tokens/s"))
            }
        }
        let body = rows.map { "<dt>\(HTMLDocument.escape($0.0))</dt><dd>\(HTMLDocument.escape($0.1))</dd>" }.joined()
        return HTMLDocument.element("dl", body, cssClass: "facts")
    }

    static func metricsTable(_ r: ReportInputs) -> String {
        var rows: [[String]] = []
        for m in r.gnnEvaluation?.results ?? [] {
            rows.append([m.model, m.count.map(String.init) ?? "n/a", fmt(m.accuracy), fmt(m.balancedAccuracy), fmt(m.macroF1),
                         fmt(m.qwk), fmt(m.macroAUC), "n/a"])
        }
        for v in ReportInputs.studentVariants {
            if let s = r.student[v.name] {
                let unparsed = s.unparsed.map { $0 > 0 ? " (\($0) unreadable Stage: lines)" : "" } ?? ""
                rows.append(["student VLM \(v.name)" + unparsed, s.count.map(String.init) ?? "n/a", fmt(s.accuracy), fmt(s.balancedAccuracy),
                             fmt(s.macroF1), fmt(s.qwk), "n/a", fmt(s.factF1)])
            }
        }
        var html = ""
        if rows.isEmpty { html += HTMLDocument.text("p", "No evaluation file found (eval-gnn.json, eval-vlm-ft.json, eval-vlm-gft.json).", cssClass: "missing") }
        else {
            html += HTMLDocument.table(header: ["model", "images", "accuracy", "balanced accuracy", "macro F1", "QWK", "macro AUC", "fact F1"],
                                       rows: rows, numericColumns: [1, 2, 3, 4, 5, 6, 7])
        }
        let absent = [("the GNN and baselines", r.gnnEvaluation == nil)] + ReportInputs.studentVariants.map { ("student \($0.name)", r.student[$0.name] == nil) }
        let gaps = absent.filter(\.1).map(\.0)
        if !gaps.isEmpty && !rows.isEmpty { html += HTMLDocument.text("p", "Not evaluated in this run: " + gaps.joined(separator: ", ") + ".", cssClass: "missing") }
        return html
    }

    /// A picture file shown inline, or a dashed placeholder saying what is missing.
    static func picture(_ path: String?, caption: String) -> String {
        let inner: String
        if let path, let mime = HTMLDocument.imageMIME(forPath: path), let data = FileManager.default.contents(atPath: path) {
            inner = HTMLDocument.image(data, mime: mime, alt: caption, cssClass: "shot")
        } else if let path {
            inner = HTMLDocument.text("div", "cannot read " + (path as NSString).lastPathComponent, cssClass: "placeholder")
        } else {
            inner = HTMLDocument.text("div", "not provided", cssClass: "placeholder")
        }
        return HTMLDocument.element("figure", inner + HTMLDocument.text("figcaption", caption))
    }

    /// ", agrees with the truth" / ", truth is X" when both stages are known, else "".
    static func agreement(_ stage: String?, _ truth: CaseTruth?) -> String {
        guard let stage, let t = truth?.stage else { return "" }
        return stage.lowercased() == t.lowercased() ? ", agrees with the truth" : ", truth is \(t)"
    }

    static func caseCard(_ c: CaseRecord) throws -> String {
        var h = HTMLDocument.text("h3", c.name + (c.imagePath.map { " (" + ($0 as NSString).lastPathComponent + ")" } ?? ""))
        h += HTMLDocument.element("div", picture(c.imagePath, caption: "OCTA image") + picture(c.overlayPath, caption: "vessel graph overlay")
                                  + picture(c.heatmapPath, caption: "integrated-gradients heatmap"), cssClass: "row")
        var left = ""
        if let t = c.truth {
            left += HTMLDocument.element("p", "<strong>Truth:</strong> " + HTMLDocument.escape(
                "\(t.stage ?? "n/a") (severity \(fmt(t.severity, 2)), FAZ \(fmt(t.fazAreaMM2, 3)) mm2)"))
        } else { left += HTMLDocument.text("p", "Truth: not provided", cssClass: "missing") }
        if c.gnnStage != nil || c.gnnProbabilities != nil {
            left += HTMLDocument.element("p", "<strong>GNN stage:</strong> " + HTMLDocument.escape((c.gnnStage ?? "n/a") + agreement(c.gnnStage, c.truth)))
            if let p = c.gnnProbabilities, !p.isEmpty {
                let png = try ImageIO.pngData(ProbabilityBarChart(bars: p).render().image)
                left += HTMLDocument.image(png, alt: "GNN class probabilities", cssClass: "bars")
            }
        } else { left += HTMLDocument.text("p", "GNN stage: not provided", cssClass: "missing") }
        var right = HTMLDocument.element("p", "<strong>Student explanation</strong>"
            + (c.explanationStage.map { " (states stage " + HTMLDocument.escape($0 + agreement($0, c.truth)) + ")" }
               ?? (c.explanation != nil ? " (no readable Stage: line)" : "")))
        right += c.explanation.map { HTMLDocument.text("blockquote", $0) } ?? HTMLDocument.text("p", "not provided", cssClass: "missing")
        right += HTMLDocument.element("p", "<strong>Top attributed structures</strong>"
            + (c.convergenceDelta.map { " (IG convergence delta " + HTMLDocument.escape(String(format: "%.2e", $0)) + ")" } ?? ""))
        if let top = c.topStructures, !top.isEmpty {
            right += HTMLDocument.table(header: ["type", "index", "sector", "score"],
                                        rows: top.map { [$0.type, $0.index.map(String.init) ?? "n/a", $0.sector ?? "n/a", String(format: "%.4f", $0.score)] },
                                        numericColumns: [1, 3])
        } else { right += HTMLDocument.text("p", "not provided", cssClass: "missing") }
        h += HTMLDocument.element("div", HTMLDocument.element("div", left) + HTMLDocument.element("div", right), cssClass: "cols")
        if !c.missingParts.isEmpty { h += HTMLDocument.text("p", "Not provided for this image: " + c.missingParts.joined(separator: ", ") + ".", cssClass: "missing") }
        for n in c.notes { h += HTMLDocument.text("p", "Note: " + n, cssClass: "missing") }
        return HTMLDocument.element("section", h, cssClass: "card")
    }

    static func confusionSection(_ r: ReportInputs) throws -> String {
        var figs: [String] = []
        for m in r.gnnEvaluation?.results ?? [] {
            guard let cm = m.confusion, !m.classNames.isEmpty else { continue }
            let chart = ConfusionMatrixChart(title: m.model, rowLabels: m.classNames, columnLabels: m.classNames, counts: cm)
            figs.append(try figure(chart.render(), caption: m.model))
        }
        let stages = ["healthy", "npdr", "pdr"]
        for v in ReportInputs.studentVariants {
            guard let cm = r.student[v.name]?.confusion else { continue }
            let cols = cm.first.map { $0.count > stages.count ? stages + ["none"] : stages } ?? stages
            let chart = ConfusionMatrixChart(title: "student VLM \(v.name)", rowLabels: stages, columnLabels: cols, counts: cm)
            figs.append(try figure(chart.render(), caption: "student VLM \(v.name) (column none = no readable Stage: line)"))
        }
        return figs.isEmpty ? HTMLDocument.text("p", "No confusion matrix: no evaluation file found.", cssClass: "missing")
                            : HTMLDocument.element("div", figs.joined(), cssClass: "row")
    }

    static func curvesSection(_ r: ReportInputs) throws -> String {
        var figs: [String] = []
        if !r.gnnEpochs.isEmpty {
            let e = r.gnnEpochs
            let loss = LineChart(title: "GNN training loss", xLabel: "epoch", yLabel: "loss",
                                 series: [LineSeries(name: "train loss", points: e.map { (Double($0.epoch), $0.trainLoss) }, color: ChartColor.series[0])])
            figs.append(try figure(loss.render(), caption: "gnn-train.jsonl: train_loss per epoch"))
            let val = LineChart(title: "GNN validation", xLabel: "epoch", yLabel: "score",
                                series: [LineSeries(name: "balanced accuracy", points: e.map { (Double($0.epoch), $0.valBalancedAccuracy ?? .nan) }, color: ChartColor.series[1]),
                                         LineSeries(name: "accuracy", points: e.map { (Double($0.epoch), $0.valAccuracy ?? .nan) }, color: ChartColor.series[2])],
                                yScale: AxisScale(lower: 0, upper: 1, step: 0.2))
            figs.append(try figure(val.render(), caption: "gnn-train.jsonl: validation metrics per epoch"))
        }
        let students = ReportInputs.studentVariants.compactMap { v in r.vlmSteps[v.name].map { (v.name, $0) } }
        if !students.isEmpty {
            let series = students.enumerated().map { i, s in
                LineSeries(name: "student \(s.0)", points: s.1.map { (Double($0.step), $0.loss) }, color: ChartColor.series[(i + 3) % ChartColor.series.count])
            }
            var chart = LineChart(title: "Student VLM training loss", xLabel: "step", yLabel: "loss (nats)", series: series)
            if let first = students.first?.1, let s2 = first.first(where: { $0.stage == 2 }), first.contains(where: { $0.stage == 1 }) {
                chart.markers = [(Double(s2.step), "stage 2: instructions")]
            }
            figs.append(try figure(chart.render(), caption: students.map { "vlm-\($0.0.lowercased())-train.jsonl" }.joined(separator: ", ") + ": loss per step"))
        }
        var html = figs.isEmpty ? "" : HTMLDocument.element("div", figs.joined(), cssClass: "cols")
        var gaps: [String] = []
        if r.gnnEpochs.isEmpty { gaps.append("GNN (gnn-train.jsonl)") }
        for v in ReportInputs.studentVariants where r.vlmSteps[v.name] == nil { gaps.append("student \(v.name) (\(v.train))") }
        if !gaps.isEmpty { html += HTMLDocument.text("p", "No training curve for: " + gaps.joined(separator: ", ") + ".", cssClass: "missing") }
        return html
    }

    static func figure(_ canvas: Canvas, caption: String) throws -> String {
        let png = try ImageIO.pngData(canvas.image)
        return HTMLDocument.element("figure", HTMLDocument.image(png, alt: caption, cssClass: "chart") + HTMLDocument.text("figcaption", caption))
    }

    /// Builds the report of `dir` and writes it to `out`; returns the missing-input list.
    /// - Throws: `ReportError.noCases`, `ReportError.io` when `out` cannot be written.
    @discardableResult
    public static func write(dir: String, to out: String, title: String = "Capillary demo report") throws -> [String] {
        let inputs = try ReportInputs.load(dir: dir)
        let page = try html(inputs, title: title)
        do { try Data(page.utf8).write(to: URL(fileURLWithPath: out), options: .atomic) }
        catch { throw ReportError.io(path: out, reason: "cannot write the report: \(error.localizedDescription)") }
        return missingInputs(inputs)
    }
}
