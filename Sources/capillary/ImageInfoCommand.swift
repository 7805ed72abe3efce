import ArgumentParser
import Foundation
import Retina

/// `capillary image-info IMAGE...`: reads images (PNG or BMP) and prints size, field of view and intensity statistics.
struct ImageInfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image-info",
        abstract: "Read OCTA images (PNG/BMP) and print size, field of view (mm) and intensity statistics.")

    @Argument(help: "Image files (PNG or BMP).")
    var images: [String]

    @Option(name: .customLong("fov-mm"), help: "Field of view in mm (default from the width: 304 px -> 3 mm, 400 px -> 6 mm).")
    var fovMM: Double?

    @Flag(help: "One JSON object per line.")
    var json = false

    func run() throws {
        var failed = 0
        for path in images {
            do {
                var img = try ImageIO.read(path: path)
                if let f = fovMM { img.pixelSizeMM = f / Double(img.width) }
                let n = Float(img.pixels.count)
                let mean = img.pixels.reduce(0, +) / n
                let sd = (img.pixels.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / n).squareRoot()
                let fov = img.fieldOfViewMM
                if json {
                    print(#"{"path":"\#(path)","width_px":\#(img.width),"height_px":\#(img.height),"#
                        + #""fov_mm":[\#(fov.width),\#(fov.height)],"pixel_size_mm":\#(img.pixelSizeMM),"#
                        + #""mean":\#(mean),"std":\#(sd)}"#)
                } else {
                    print(String(format: "%@: %dx%d px, %.2fx%.2f mm (%.4f mm/px), mean %.3f, std %.3f",
                                 path, img.width, img.height, fov.width, fov.height, img.pixelSizeMM, mean, sd))
                }
            } catch {
                failed += 1
                FileHandle.standardError.write("capillary: \(error)\n".data(using: .utf8)!)
            }
        }
        if failed > 0 { throw ExitCode(1) }
    }
}
