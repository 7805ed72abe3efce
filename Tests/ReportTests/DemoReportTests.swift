import XCTest
import Retina
@testable import Report

/// The report of a small fixture folder whose files have the shapes the real commands write
/// (train-gnn --json, eval-gnn --json --baselines, train-vlm --log, eval-vlm --out).
final class DemoReportTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "report-test-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir + "/cases", withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func write(_ name: String, _ text: String) throws { try Data(text.utf8).write(to: URL(fileURLWithPath: dir + "/" + name)) }

    func writeFixture() throws {
        var eye = GrayImage(width: 16, height: 16, pixelSizeMM: 0.01)
        for y in 0..<16 { for x in 0..<16 { eye[x, y] = Float((x + y) % 7) / 6 } }
        try ImageIO.writePNG(eye, to: dir + "/eye_a.png")
        try ImageIO.writePNG(RGBImage(width: 16, height: 16, fill: (200, 30, 30)), to: dir + "/eye_a.overlay.png")
        try write("cases/eye_a.json", """
            {"image": "eye_a.png", "truth": {"stage": "npdr", "severity": 0.41, "fazAreaMM2": 0.352},
             "overlay": "\(dir)/eye_a.overlay.png", "heatmap": null,
             "gnn": {"stage": "npdr", "probabilities": {"pdr": 0.1, "healthy": 0.2, "npdr": 0.7}},
             "explanation": "Stage: NPDR <script>alert('x')</script> & FAZ \\"enlarged\\"", "explanationStage": "npdr",
             "attribution": {"convergenceDelta": 0.0012, "top": [{"type": "faz", "index": 0, "sector": "center", "score": 0.31}]}}
            """)
        try write("cases/eye_b.json", #"{"image": "eye_b_absent.png"}"#)
        try write("gnn-train.jsonl", """
            {"best":true,"epoch":1,"epochs":3,"eta_seconds":8.0,"event":"epoch","lr":0.005,"model":"GNN","seconds":4.0,"train_loss":2.6,"val_accuracy":0.22,"val_auc":0.81,"val_balanced_accuracy":0.33}
            {"best":true,"epoch":2,"epochs":3,"eta_seconds":4.0,"event":"epoch","lr":0.00475,"model":"GNN","seconds":3.9,"train_loss":1.9,"val_accuracy":0.44,"val_auc":0.83,"val_balanced_accuracy":0.56}
            {"best":false,"epoch":3,"epochs":3,"eta_seconds":0.0,"event":"epoch","lr":0.0045,"model":"GNN","seconds":3.8,"train_loss":1.5,"val_accuracy":0.44,"val_auc":null,"val_balanced_accuracy":0.5}
            {"best_epoch":2,"event":"stored","path":"store/graphnet/1","test":null}
            """)
        let metrics = #""accuracy":0.75,"balanced_accuracy":0.7,"class_names":["healthy","npdr","pdr"],"confusion":[[3,1,0],[0,2,1],[0,0,1]],"count":8,"macro_auc":0.9,"macro_f1":0.72,"per_class_auc":[0.9,0.8,1],"qwk":0.81,"recall":[0.75,0.67,1]"#
        try write("eval-gnn.json", """
            {"best":true,"epoch":1,"epochs":60,"eta_seconds":1,"event":"epoch","lr":0.01,"model":"logistic regression (global biomarkers)","seconds":0.01,"train_loss":1.1,"val_accuracy":0.5,"val_auc":0.7,"val_balanced_accuracy":0.5}
            {"model":"store/graphnet/1","split":"test","results":[{"model":"GNN (graphnet v1)","test":{\(metrics)},"train_seconds":0},{"best_epoch":27,"model":"logistic regression (global biomarkers)","test":{\(metrics)},"train_seconds":0.2}]}
            """)
        try write("vlm-ft-train.jsonl", """
            {"eta_s":3,"grad_norm":1.2,"loss":5.5,"lr":0.002,"stage":1,"step":1,"text_tokens_per_s":9000,"total_steps":3}
            {"eta_s":1,"grad_norm":1.1,"loss":3.1,"lr":0.002,"stage":2,"step":2,"text_tokens_per_s":9500,"total_steps":3}
            {"eta_s":0,"grad_norm":1.0,"loss":2.2,"lr":0.001,"stage":2,"step":3,"text_tokens_per_s":9800,"total_steps":3}
            """)
        try write("eval-vlm-ft.json", """
            {"answers":[],"decode_tokens_per_s":5000,"fact_scorer":"captions","facts":{"f1":0.61,"hallucination_rate":0.1,"localization_accuracy":null,"precision":0.7,"recall":0.55},
             "mean_ttft_ms":1.6,"staging":{"accuracy":0.5,"balanced_accuracy":0.45,"confusion":[[2,1,0,1],[1,1,0,0],[0,1,0,1]],"count":8,"macro_f1":0.4,"qwk":0.3,"unparsed":2}}
            """)
    }

    func testReportShowsEveryCaseAndNamesWhatIsMissing() throws {
        try writeFixture()
        let inputs = try ReportInputs.load(dir: dir)
        XCTAssertEqual(inputs.cases.map(\.name), ["eye_a", "eye_b"])
        XCTAssertEqual(inputs.gnnEpochs.map(\.epoch), [1, 2, 3])
        XCTAssertEqual(inputs.gnnBestEpoch, 2)
        XCTAssertEqual(inputs.gnnEvaluation?.results.map(\.model), ["GNN (graphnet v1)", "logistic regression (global biomarkers)"])
        XCTAssertEqual(inputs.vlmSteps["FT"]?.map(\.loss), [5.5, 3.1, 2.2])
        XCTAssertEqual(inputs.student["FT"]?.factF1, 0.61)
        XCTAssertNil(inputs.student["GFT"])
        let a = inputs.cases[0]
        XCTAssertEqual(a.gnnProbabilities?.map(\.label), ["healthy", "npdr", "pdr"])   // clinical order, not file order
        XCTAssertEqual(a.missingParts, ["heatmap"])
        XCTAssertEqual(inputs.cases[1].missingParts, ["overlay", "heatmap", "truth", "gnn", "explanation", "attribution"])

        let missing = DemoReport.missingInputs(inputs)
        XCTAssertEqual(missing, ["vlm-gft-train.jsonl (not found)", "eval-vlm-gft.json (not found)",
                                 "attribution in 1 of 2 case(s)", "explanation in 1 of 2 case(s)", "gnn in 1 of 2 case(s)",
                                 "heatmap in 2 of 2 case(s)", "overlay in 1 of 2 case(s)", "truth in 1 of 2 case(s)"])

        let page = try DemoReport.html(inputs)
        for s in ["eye_a", "eye_b", "GNN (graphnet v1)", "logistic regression (global biomarkers)", "student VLM FT",
                  "0.720", "0.610", "npdr, agrees with the truth", "vlm-gft-train.jsonl", "not provided", "cannot read eye_b_absent.png", "1.20e-03", "center"] {
            XCTAssertTrue(page.contains(s), "page lacks \(s)")
        }
        XCTAssertFalse(page.contains("student VLM GFT"))   // absent, never invented
        XCTAssertTrue(page.contains("Stage: NPDR &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; FAZ &quot;enlarged&quot;"))
        XCTAssertFalse(page.contains("<script"))
        // Images: eye_a image + overlay + probability bars; 3 confusion matrices (GNN, baseline, FT); 3 curves.
        let srcs = page.components(separatedBy: "src=\"").dropFirst()
        XCTAssertEqual(srcs.count, 9)
        XCTAssertTrue(srcs.allSatisfy { $0.hasPrefix("data:image/png;base64,") }, "an image is not inline")
        XCTAssertFalse(page.contains("href=")); XCTAssertFalse(page.contains("http://")); XCTAssertFalse(page.contains("https://"))
        // The inline images decode back to real PNGs.
        for s in srcs {
            let b64 = s.dropFirst("data:image/png;base64,".count).prefix { $0 != "\"" }
            let data = try XCTUnwrap(Data(base64Encoded: String(b64)))
            XCTAssertGreaterThan(try ImageIO.decode(data, name: "inline").width, 0)
        }
    }

    func testWriteCreatesTheFileAndAbsentCasesFailWithAnActionableError() throws {
        XCTAssertThrowsError(try DemoReport.write(dir: dir, to: dir + "/r.html")) { e in
            XCTAssertEqual(e as? ReportError, .noCases(dir: dir))
            XCTAssertTrue("\(e)".contains("demo-cases.py"))
        }
        try write("cases/only.json", #"{"image": "x.png", "gnn": {"stage": "pdr"}}"#)
        try write("eval-gnn.json", "not json at all")
        let missing = try DemoReport.write(dir: dir, to: dir + "/r.html")
        XCTAssertTrue(missing.contains("eval-gnn.json (no JSON object in the file)"))
        XCTAssertTrue(missing.contains("gnn-train.jsonl (not found)"))
        let page = try String(contentsOfFile: dir + "/r.html", encoding: .utf8)
        XCTAssertTrue(page.hasPrefix("<!DOCTYPE html>"))
        XCTAssertTrue(page.contains("No evaluation file found"))
        XCTAssertTrue(page.contains("No training curve for"))
    }

    func testHTMLEscapesMarkupCharacters() {
        XCTAssertEqual(HTMLDocument.escape(#"<a href="x">&'"#), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;")
        XCTAssertEqual(HTMLDocument.escape("plain text 0.5"), "plain text 0.5")
        let t = HTMLDocument.table(header: ["<h>"], rows: [["a&b"]])
        XCTAssertTrue(t.contains("<th>&lt;h&gt;</th>")); XCTAssertTrue(t.contains("<td>a&amp;b</td>"))
        XCTAssertEqual(HTMLDocument.dataURI(Data([0, 1, 2]), mime: "image/png"), "data:image/png;base64,AAEC")
    }
}
