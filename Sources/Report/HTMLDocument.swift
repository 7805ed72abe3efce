import Foundation

/// A self-contained HTML page: inline CSS, images embedded as `data:` URIs, every piece of text escaped.
/// Fragments are built with the static functions and appended in order; the page loads nothing external.
public struct HTMLDocument: Sendable {
    /// Page title (escaped when rendered).
    public var title: String
    /// Body fragments, in order (already HTML).
    public private(set) var fragments: [String] = []

    /// An empty page titled `title`.
    public init(title: String) { self.title = title }

    /// `s` with `& < > " '` replaced by character references, safe in text and in quoted attributes.
    public static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for ch in s {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(ch)
            }
        }
        return out
    }

    /// A `data:` URI of `bytes` with media type `mime` (base64).
    public static func dataURI(_ bytes: Data, mime: String) -> String {
        "data:\(mime);base64,\(bytes.base64EncodedString())"
    }

    /// Media type of an image file from its extension (png, bmp, jpg/jpeg, gif); nil for anything else.
    public static func imageMIME(forPath path: String) -> String? {
        switch (path as NSString).pathExtension.lowercased() {
        case "png": return "image/png"
        case "bmp": return "image/bmp"
        case "jpg", "jpeg": return "image/jpeg"
        case "gif": return "image/gif"
        default: return nil
        }
    }

    /// An `<img>` element showing `bytes` inline, with escaped alt text.
    public static func image(_ bytes: Data, mime: String = "image/png", alt: String, cssClass: String? = nil) -> String {
        let cls = cssClass.map { " class=\"\(escape($0))\"" } ?? ""
        return "<img\(cls) src=\"\(dataURI(bytes, mime: mime))\" alt=\"\(escape(alt))\">"
    }

    /// An element `<tag class=...>` around already-built `inner` HTML.
    public static func element(_ tag: String, _ inner: String, cssClass: String? = nil) -> String {
        let cls = cssClass.map { " class=\"\(escape($0))\"" } ?? ""
        return "<\(tag)\(cls)>\(inner)</\(tag)>"
    }

    /// An element around escaped `text`.
    public static func text(_ tag: String, _ text: String, cssClass: String? = nil) -> String {
        element(tag, escape(text), cssClass: cssClass)
    }

    /// A table with escaped header and cell text; `numericColumns` are right-aligned.
    public static func table(header: [String], rows: [[String]], numericColumns: Set<Int> = []) -> String {
        func cls(_ j: Int) -> String? { numericColumns.contains(j) ? "num" : nil }
        let head = header.enumerated().map { text("th", $1, cssClass: cls($0)) }.joined()
        let body = rows.map { r in "<tr>" + r.enumerated().map { text("td", $1, cssClass: cls($0)) }.joined() + "</tr>" }.joined(separator: "\n")
        return "<table><thead><tr>\(head)</tr></thead><tbody>\n\(body)\n</tbody></table>"
    }

    /// Appends an HTML fragment built with the static functions.
    public mutating func append(_ html: String) { fragments.append(html) }

    /// The whole page.
    public func render() -> String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(Self.escape(title))</title>
        <style>\(Self.css)</style>
        </head>
        <body>
        <main>
        \(fragments.joined(separator: "\n"))
        </main>
        </body>
        </html>

        """
    }

    /// The page's only style sheet.
    static let css = """
    body{margin:0;background:#f6f7f9;color:#212529;font:15px/1.5 -apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
    main{max-width:1180px;margin:0 auto;padding:24px 28px 60px}
    h1{font-size:28px;margin:8px 0 4px}h2{font-size:21px;margin:36px 0 12px;padding-bottom:6px;border-bottom:2px solid #dee2e6}
    h3{font-size:17px;margin:0 0 10px}
    .facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 18px;margin:10px 0}
    .facts dt{color:#6c757d}.facts dd{margin:0}
    .missing{color:#a61e4d;font-style:italic}
    .notice{background:#fff4e6;border-left:4px solid #f08c00;padding:8px 14px;margin:14px 0}
    .card{background:#fff;border:1px solid #dee2e6;border-radius:8px;padding:16px 18px;margin:16px 0}
    .row{display:flex;flex-wrap:wrap;gap:14px;align-items:flex-start}
    figure{margin:0;text-align:center}figcaption{font-size:13px;color:#6c757d;margin-top:4px}
    .shot{box-sizing:border-box;width:262px;height:auto;border:1px solid #ced4da;background:#000;display:block}
    .placeholder{box-sizing:border-box;width:262px;height:262px;display:flex;align-items:center;justify-content:center;border:1px dashed #adb5bd;color:#a61e4d;font-style:italic;background:#f8f9fa}
    .chart{box-sizing:border-box;max-width:100%;height:auto;display:block;margin:0 auto;border:1px solid #dee2e6;background:#fff}
    .bars{max-width:100%;height:auto}
    blockquote{margin:8px 0;padding:8px 14px;background:#f1f3f5;border-left:4px solid #1f77b4;white-space:pre-wrap}
    table{border-collapse:collapse;margin:8px 0;background:#fff}th,td{border:1px solid #dee2e6;padding:4px 10px;text-align:left}
    th{background:#f1f3f5}.num{text-align:right;font-variant-numeric:tabular-nums}
    .cols{display:grid;grid-template-columns:1fr 1fr;gap:16px}@media(max-width:900px){.cols{grid-template-columns:1fr}}
    code{background:#f1f3f5;padding:0 4px;border-radius:3px}
    """
}
