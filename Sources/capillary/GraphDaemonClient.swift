import Foundation
import RPC

extension GraphCommand {
    /// `capillary graph IMAGE --daemon`: the graph method; `--out` writes the whole graph JSON
    /// (docs/GRAPH_FORMAT.md) that the daemon returns with `includeGraph`.
    func graphThroughDaemon(_ image: String) throws {
        let connection = try daemonOptions.connect()
        var params: JSONObject = ["image": try imageParameter(image, fovMM: fovMM)]
        if out != nil { params["includeGraph"] = true }
        var r = try connection.call("graph", params, interrupts: InterruptCounter())
        if let out, let graph = r["graph"] {
            do { try Data(try JSONCodec.encode(graph)).write(to: URL(fileURLWithPath: out), options: .atomic) } catch {
                throw DaemonClientError.connection("cannot write \(out): \(error)")
            }
            if case .object(var o) = r { o["graph"] = nil; r = .object(o) }  // written to the file, not to stdout
        }
        if json { return printJSONLine(r) }
        let s = r["summary"] ?? .null, b = r["biomarkers"] ?? .null
        print(String(format: "%@: %d vessel, %d ICA, %d FAZ nodes, %d edges; perfusion %.3f, FAZ %.3f mm2; %.0f ms",
                     image, s["vesselNodes"]?.intValue ?? 0, s["icaNodes"]?.intValue ?? 0, s["fazNodes"]?.intValue ?? 0,
                     s["edges"]?.intValue ?? 0, b["perfusion_density"]?.doubleValue ?? .nan, b["faz_area_mm2"]?.doubleValue ?? .nan,
                     r["timings"]?["totalMS"]?.doubleValue ?? 0))
        if let out { print("graph: \(out)") }
    }
}
