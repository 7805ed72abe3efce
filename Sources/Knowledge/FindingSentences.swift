import Foundation

/// Sentence templates: several phrasings per finding, all in a clinical register, every value with its unit
/// and its healthy range. Every phrasing is read back by `FactParser` (the round trip is tested for each).
/// Distances and ranges sit in parentheses, which the parser ignores, so numbers never change a fact.
enum FindingSentences {
    /// "NPDR", "PDR", "healthy".
    static func stageText(_ stage: String) -> String { stage == "healthy" ? "healthy" : stage.uppercased() }

    /// "inner temporal sector", "central subfield".
    static func sectorText(_ code: String) -> String {
        if code == "C" { return "central subfield" }
        let ring = code.first == "I" ? "inner" : (code.first == "O" ? "outer" : "peripheral")
        let side: String
        switch code.last {
        case "S": side = "superior"
        case "N": side = "nasal"
        case "I": side = "inferior"
        default: side = "temporal"
        }
        return "\(ring) \(side) sector"
    }

    /// "mildly " within half a range width beyond the bound, "markedly " beyond 1.5 widths, else "".
    static func degree(_ f: Finding) -> String {
        guard let d = f.deviation.map(abs) else { return "" }
        return d <= 0.5 ? "mildly " : (d > 1.5 ? "markedly " : "")
    }

    /// Whether a normal call sits outside the healthy range but within the margin (written "borderline"),
    /// judged on the written numbers: a value that rounds into the written range reads as within it.
    static func isBorderline(_ f: Finding) -> Bool {
        guard (f.deviation ?? 0) != 0, let m = f.measurement, let r = f.reference,
              let v = Double(m.number(m.value)), let lo = Double(m.number(r.p5)), let hi = Double(m.number(r.p95)) else { return false }
        return v < lo || v > hi
    }

    /// "an enlarged" / "a mildly enlarged" for a summary phrase.
    static func article(_ adv: String, _ word: String) -> String {
        let next = adv.isEmpty ? word : adv
        return ("aeiou".contains(next.first ?? "x") ? "an " : "a ") + adv + word
    }

    /// "value; healthy range" for parentheses.
    static func valueAndRange(_ f: Finding) -> String {
        guard let m = f.measurement else { return "" }
        guard let r = f.reference else { return m.text }
        return "\(m.text); healthy \(m.rangeText(r))"
    }

    /// "; this weighed most towards NPDR" (or nothing without a significant share).
    static func attributionClause(share: Double?, most: Bool, stage: String, threshold: Double, _ c: inout PhraseChooser) -> String {
        guard let s = share, abs(s) >= threshold else { return "" }
        let st = stageText(stage)
        if s > 0 && most { return "; " + c.pick(["this weighed most towards \(st)", "this was the strongest evidence for \(st)"]) }
        if s > 0 { return "; " + c.pick(["this weighed towards \(st)", "this supported the \(st) call"]) }
        return "; " + c.pick(["this weighed against \(st)", "this argued against \(st)"])
    }

    /// The FAZ sentence from its area and border findings (either may be missing).
    static func faz(area: Finding?, border: Finding?, stage: String, threshold: Double, _ c: inout PhraseChooser) -> String {
        var s = ""
        if let a = area {
            let vr = valueAndRange(a)
            switch a.direction {
            case .enlarged:
                let adv = degree(a)
                s = c.pick(["The FAZ is \(adv)enlarged (\(vr))", "The foveal avascular zone is \(adv)enlarged (\(vr))",
                            "The FAZ is larger than in healthy eyes (\(vr))"])
            case .small:
                s = c.pick(["The FAZ is smaller than the healthy range (\(vr))", "The foveal avascular zone is small (\(vr))"])
            default:
                s = isBorderline(a) ? c.pick(["The FAZ area is borderline, at the edge of the healthy range (\(vr))",
                                              "The FAZ area is borderline (\(vr))"])
                    : c.pick(["The FAZ area is within the healthy range (\(vr))",
                            "The foveal avascular zone is of normal size (\(vr))",
                            "The FAZ measures \(a.measurement!.text), within the healthy range (healthy \(a.measurement!.rangeText(a.reference!)))"])
            }
        }
        if let b = border {
            let vr = valueAndRange(b)
            let irregular = b.direction == .irregular
            let adv = irregular ? degree(b) : ((b.deviation ?? 0) < 0 && isBorderline(b) ? "borderline-" : "")
            let article = irregular && adv.isEmpty ? "an" : "a"
            let word = irregular ? "irregular" : "regular"
            if s.isEmpty {
                s = c.pick(["The FAZ border is \(adv)\(word) (\(vr))", "The FAZ outline is \(adv)\(word) (\(vr))"])
            } else {
                s += c.pick([", with \(article) \(adv)\(word) border (\(vr))", ", and its border is \(adv)\(word) (\(vr))",
                             ", with \(article) \(adv)\(word) outline (\(vr))"])
            }
        }
        let shares = [area, border].compactMap { $0?.attributionShare }
        let share: Double? = shares.isEmpty ? nil : shares.reduce(0, +)
        let most = (area?.weighedMost ?? false) || (border?.weighedMost ?? false)
        return s + attributionClause(share: share, most: most, stage: stage, threshold: threshold, &c) + "."
    }

    /// One sentence for any finding other than the FAZ area/border and the stage.
    static func sentence(_ f: Finding, stage: String, threshold: Double, _ c: inout PhraseChooser) -> String {
        let vr = valueAndRange(f)
        let sector = f.location.map { sectorText($0.sector) } ?? "field"
        let distance = f.location?.distanceFromFAZMM.map { String(format: "%.1f mm from the FAZ centre", $0) }
        let adv = degree(f)
        var s: String
        if f.direction == .normal && isBorderline(f), let name = borderlineNames[f.subject] {
            s = c.pick(["\(name) is borderline, at the edge of the healthy range (\(vr))", "\(name) is borderline (\(vr))"])
            return s + attributionClause(share: f.attributionShare, most: f.weighedMost, stage: stage, threshold: threshold, &c) + "."
        }
        switch (f.subject, f.direction) {
        case (.fazDetection, _):
            s = c.pick(["No FAZ could be delineated on this image, so its size and shape are not assessed",
                        "The FAZ was not detected on this image, so it is not measured"])
        case (.perfusionDensity, .reduced):
            s = c.pick(["Perfusion density is \(adv)reduced (\(vr))", "Capillary perfusion is \(adv)reduced (perfusion density \(vr))",
                        "The perfusion density is lower than the healthy range (\(vr))"])
        case (.perfusionDensity, .increased):
            s = c.pick(["Perfusion density is above the healthy range (\(vr))",
                        "The perfusion density is higher than the healthy range (\(vr))"])
        case (.perfusionDensity, _):
            s = c.pick(["Perfusion density is within the healthy range (\(vr))",
                        "Capillary perfusion is normal (perfusion density \(vr))",
                        "The perfusion density lies within the healthy range (\(vr))"])
        case (.sectorPerfusion, _):
            s = c.pick(["Perfusion is \(adv)reduced in the \(sector) (\(vr))",
                        "The \(sector) is \(adv)hypoperfused (\(vr))",
                        "In the \(sector) perfusion density is \(adv)reduced to \(f.measurement!.text) (healthy \(f.measurement!.rangeText(f.reference!)))"])
        case (.avascularArea, _):
            let d = distance.map { ", \($0)" } ?? ""
            let area = f.measurement.map { "\($0.text) in \(f.structure?.nodeIDs.count ?? 0) intercapillary regions\(d)" } ?? ""
            s = c.pick(["A large avascular area lies in the \(sector) (\(area))",
                        "The \(sector) holds a large avascular area (\(area))"])
        case (.vesselDensity, .reduced):
            s = c.pick(["Vessel density is \(adv)reduced (\(vr))", "The vessel length density is lower than the healthy range (\(vr))",
                        "The capillary network is sparse (vessel density \(vr))"])
        case (.vesselDensity, .increased):
            s = c.pick(["Vessel density is above the healthy range (\(vr))", "The vessel length density is higher than the healthy range (\(vr))"])
        case (.vesselDensity, _):
            s = c.pick(["Vessel density is within the healthy range (\(vr))",
                        "The vessel length density lies within the healthy range (\(vr))"])
        case (.tortuosity, .tortuous):
            let d = distance.map { " (\($0))" } ?? ""
            let loc = f.location == nil ? "" : c.pick([", most marked in the \(sector)\(d)", ", mostly in the \(sector)\(d)"])
            s = c.pick(["Vessels are \(adv)tortuous (\(vr))", "Vessel tortuosity is \(adv)increased (\(vr))",
                        "The vessels run a tortuous course (\(vr))"]) + loc
        case (.tortuosity, _):
            s = c.pick(["Vessel tortuosity is within the healthy range (\(vr))", "Vessel curveness is within the healthy range (\(vr))"])
        case (.caliber, .dilated):
            s = c.pick(["Vessels are \(adv)dilated (mean radius \(vr))", "The mean vessel calibre is \(adv)increased (mean radius \(vr))"])
        case (.caliber, .narrowed):
            s = c.pick(["Vessels are \(adv)narrowed (mean radius \(vr))", "The mean vessel calibre is \(adv)reduced (mean radius \(vr))"])
        case (.caliber, _):
            s = c.pick(["Vessel calibre is within the healthy range (mean radius \(vr))"])
        case (.complexity, .reduced):
            s = c.pick(["Branching complexity is \(adv)reduced (\(vr))", "The branching pattern is \(adv)simplified (\(vr))"])
        case (.complexity, _):
            s = c.pick(["Branching complexity is within the healthy range (\(vr))"])
        case (.attributionFocus, _):
            let p = String(format: "%.0f%% of the positive node attribution", 100 * (f.attributionShare ?? 0))
            return c.pick(["The decision rested mostly on the \(sector) (\(p)).",
                           "The node attribution concentrates in the \(sector) (\(p))."])
        default:
            s = ""
        }
        return s + attributionClause(share: f.attributionShare, most: f.weighedMost, stage: stage, threshold: threshold, &c) + "."
    }

    /// Subject names for borderline sentences (each holds the parser's subject keyword).
    static let borderlineNames: [FindingSubject: String] = [
        .perfusionDensity: "Perfusion density", .vesselDensity: "Vessel density", .tortuosity: "Vessel tortuosity",
        .caliber: "Vessel calibre", .complexity: "Branching complexity",
    ]

    /// The scope statement of the vasculature answer: what the vessel graph cannot see.
    static func vasculatureScope(_ c: inout PhraseChooser) -> String {
        c.pick(["Microaneurysms and neovascularization are not resolved by the vessel graph and are not assessed.",
                "The vessel graph does not resolve microaneurysms or neovascularization, so these are not assessed."])
    }

    /// A short noun phrase for the diagnosis summary ("an enlarged FAZ", "reduced perfusion in the inner
    /// temporal sector"); nil for statements that are not abnormal.
    static func short(_ f: Finding, _ c: inout PhraseChooser) -> String? {
        let sector = f.location.map { sectorText($0.sector) }
        let inSector = sector.map { " in the \($0)" } ?? ""
        let adv = degree(f)
        switch (f.subject, f.direction) {
        case (.fazArea, .enlarged): return c.pick([article(adv, "enlarged FAZ"), adv.isEmpty ? "FAZ enlargement" : "\(adv)enlarged FAZ"])
        case (.fazArea, .small): return c.pick(["a small FAZ", "a FAZ smaller than the healthy range"])
        case (.fazBorder, .irregular): return c.pick([article(adv, "irregular FAZ border"), article(adv, "irregular FAZ outline")])
        case (.perfusionDensity, .reduced): return c.pick(["\(adv)reduced perfusion density", "\(adv)reduced capillary perfusion"])
        case (.perfusionDensity, .increased): return "perfusion density above the healthy range"
        case (.sectorPerfusion, .reduced): return c.pick(["\(adv)reduced perfusion\(inSector)", article(adv, "hypoperfused \(sector ?? "sector")")])
        case (.avascularArea, .present): return "a large avascular area\(inSector)"
        case (.vesselDensity, .reduced): return c.pick(["\(adv)reduced vessel density", article(adv, "sparse capillary network")])
        case (.vesselDensity, .increased): return "vessel density above the healthy range"
        case (.tortuosity, .tortuous): return c.pick(["\(adv)tortuous vessels\(inSector)", "\(adv)increased vessel tortuosity\(inSector)"])
        case (.caliber, .dilated): return "\(adv)dilated vessels"
        case (.caliber, .narrowed): return "\(adv)narrowed vessels"
        case (.complexity, .reduced): return c.pick(["\(adv)reduced branching complexity", article(adv, "simplified branching pattern")])
        default: return nil
        }
    }
}
