import Foundation
import VLM

/// Reads facts (subject, direction, sector, stage) back from free text: Knowledge's own sentences exactly
/// (`parse(render(findings)) == facts(findings)`, tested for every phrasing) and a student's paraphrases as
/// far as they use the same clinical vocabulary.
///
/// How: the stage comes from the first `Stage:` line. The rest is cut into sentences (at ". ", line breaks)
/// and clauses (at ";", ","); parenthesised text (values, ranges, distances) is dropped first, so numbers
/// never make a fact. A clause naming a subject ("FAZ", "perfusion", "tortuous", ...) sets the sentence's
/// subject; a direction word in a clause ("enlarged", "reduced", "within the healthy range", ...) states a
/// fact about the current subject. A located subject takes the sector named in its clause, else the sector
/// of the next clause of its sentence that states no fact ("tortuous, mostly in the inner inferior sector").
public struct FactParser: Sendable {
    /// The parser (stateless).
    public init() {}

    /// The facts stated in `text`.
    public func parse(_ text: String) -> Set<Fact> {
        var out = Set<Fact>()
        if let s = StageLine.parse(text) { out.insert(Fact(subject: .stage, direction: .predicted, stage: s.rawValue)) }
        for line in text.lowercased().split(separator: "\n") {
            let l = line.trimmingCharacters(in: .whitespaces)
            if l.hasPrefix("stage:") { continue }
            for sentence in Self.sentences(Self.dropParentheses(l)) {
                var subject: Context?
                var stated: [Fact] = []
                for clause in Self.clauses(sentence) {
                    if let s = Self.context(of: clause) { subject = s }
                    guard let s = subject else { continue }
                    let found = Self.facts(clause: clause, context: s)
                    if found.isEmpty, let code = Self.sector(in: clause), let last = stated.last,
                       last.subject.isLocated, last.direction != .normal, last.sector == nil {
                        // "Vessels are tortuous, mostly in the inner inferior sector": the place follows the fact.
                        stated[stated.count - 1].sector = code
                    }
                    stated += found
                }
                for f in stated { out.insert(f) }
            }
        }
        return out
    }

    /// Subject context a clause can set.
    enum Context { case faz, avascular, tortuosity, caliber, complexity, vesselDensity, perfusion, focus }

    static func dropParentheses(_ s: String) -> String {
        var out = "", depth = 0
        for ch in s {
            if ch == "(" { depth += 1; continue }
            if ch == ")" { depth = max(0, depth - 1); continue }
            if depth == 0 { out.append(ch) }
        }
        return out
    }

    static func sentences(_ s: String) -> [String] {
        s.components(separatedBy: ". ").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: " .")) }.filter { !$0.isEmpty }
    }

    static func clauses(_ s: String) -> [String] {
        s.components(separatedBy: CharacterSet(charactersIn: ";,")).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    static func has(_ s: String, _ words: [String]) -> Bool { words.contains { s.contains($0) } }

    /// Whole-word match (so "normal" is not found in "abnormal", "regular" not in "irregular").
    static func hasWord(_ s: String, _ word: String) -> Bool {
        var search = s[...]
        while let r = search.range(of: word) {
            let before = r.lowerBound == s.startIndex ? nil : s[s.index(before: r.lowerBound)]
            let after = r.upperBound == s.endIndex ? nil : s[r.upperBound]
            if !(before?.isLetter ?? false) && !(after?.isLetter ?? false) { return true }
            search = s[r.upperBound...]
        }
        return false
    }

    static func context(of c: String) -> Context? {
        if has(c, ["foveal avascular zone"]) || hasWord(c, "faz") { return .faz }
        if has(c, ["avascular area", "avascular region"]) { return .avascular }
        if has(c, ["tortuo", "curveness"]) { return .tortuosity }
        if has(c, ["calibre", "caliber", "dilated", "narrowed", "vessel radius"]) { return .caliber }
        if has(c, ["branching", "fractal"]) { return .complexity }
        if has(c, ["vessel density", "vessel length density", "capillary network"]) { return .vesselDensity }
        if has(c, ["perfusion", "perfused"]) { return .perfusion }
        if has(c, ["decision rested", "attribution concentrates"]) { return .focus }
        return nil
    }

    /// ETDRS sector code of the first sector phrase in `s`.
    static func sector(in s: String) -> String? {
        if s.contains("central subfield") { return "C" }
        var best: (String.Index, String)?
        for (ring, r) in [("inner", "I"), ("outer", "O")] {
            for (side, code) in [("superior", "S"), ("nasal", "N"), ("inferior", "I"), ("temporal", "T")] {
                if let range = s.range(of: "\(ring) \(side)"), best == nil || range.lowerBound < best!.0 { best = (range.lowerBound, r + code) }
            }
        }
        return best?.1
    }

    /// Directions named in a clause, in priority order.
    static func directions(_ c: String) -> [FindingDirection] {
        var d: [FindingDirection] = []
        if has(c, ["not detected", "could not be delineated", "no faz"]) { d.append(.undetected) }
        if hasWord(c, "irregular") { d.append(.irregular) }
        if hasWord(c, "regular") || hasWord(c, "smooth") { d.append(.regular) }
        if has(c, ["enlarged", "enlargement", "larger than"]) { d.append(.enlarged) }
        if has(c, ["smaller than"]) || hasWord(c, "small") { d.append(.small) }
        if hasWord(c, "tortuous") { d.append(.tortuous) }
        if hasWord(c, "dilated") { d.append(.dilated) }
        if hasWord(c, "narrowed") { d.append(.narrowed) }
        if has(c, ["less perfused", "hypoperfus", "reduced", "decreased", "lower than", "falls to", "sparse", "simplified"]) { d.append(.reduced) }
        if has(c, ["increased", "higher than", "above the healthy range"]) { d.append(.increased) }
        if has(c, ["within the healthy range", "normal size", "borderline"]) || hasWord(c, "normal") { d.append(.normal) }
        if hasWord(c, "large") { d.append(.present) }
        if has(c, ["rested mostly", "concentrates"]) { d.append(.concentrated) }
        return d
    }

    static func facts(clause c: String, context: Context) -> [Fact] {
        let dirs = directions(c)
        guard !dirs.isEmpty else { return [] }
        let sector = self.sector(in: c)
        func first(_ subject: FindingSubject, _ allowed: [FindingDirection: FindingDirection]) -> [Fact] {
            guard let d = dirs.lazy.compactMap({ allowed[$0] }).first else { return [] }
            return [Fact(subject: subject, direction: d, sector: subject.isLocated && d != .normal ? sector : nil)]
        }
        switch context {
        case .faz:
            if dirs.contains(.undetected) { return [Fact(subject: .fazDetection, direction: .undetected)] }
            var out: [Fact] = []
            var areaWords: [FindingDirection: FindingDirection] = [.enlarged: .enlarged, .increased: .enlarged, .small: .small,
                                                                  .reduced: .small, .normal: .normal]
            if ["border", "outline", "circularity", "contour"].contains(where: { hasWord(c, $0) }) {
                out += first(.fazBorder, [.irregular: .irregular, .regular: .regular])
                // "a borderline-regular outline" qualifies the border, not the area.
                if c.contains("borderline"), !has(c, ["within the healthy range", "normal size"]), !hasWord(c, "normal") {
                    areaWords[.normal] = nil
                }
            }
            out += first(.fazArea, areaWords)
            return out
        case .avascular: return first(.avascularArea, [.present: .present])
        case .tortuosity: return first(.tortuosity, [.tortuous: .tortuous, .increased: .tortuous, .normal: .normal])
        case .caliber:
            return first(.caliber, [.dilated: .dilated, .increased: .dilated, .narrowed: .narrowed, .reduced: .narrowed, .normal: .normal])
        case .complexity: return first(.complexity, [.reduced: .reduced, .normal: .normal])
        case .vesselDensity: return first(.vesselDensity, [.reduced: .reduced, .increased: .increased, .normal: .normal])
        case .perfusion:
            if let s = sector, dirs.contains(.reduced) { return [Fact(subject: .sectorPerfusion, direction: .reduced, sector: s)] }
            return first(.perfusionDensity, [.reduced: .reduced, .increased: .increased, .normal: .normal])
        case .focus: return first(.attributionFocus, [.concentrated: .concentrated])
        }
    }
}

/// Knowledge's fact parser as VLM's `FactScorer`, so `eval-vlm` can score a student's explanations against
/// Knowledge's reference answers. Facts are `Fact.canonical` strings ("faz.area=enlarged",
/// "perfusion.sector@IT=reduced", "stage=npdr").
public struct KnowledgeFactScorer: FactScorer {
    let parser = FactParser()
    /// The scorer.
    public init() {}
    /// "knowledge-facts".
    public var name: String { "knowledge-facts" }
    /// Canonical facts stated in `text`.
    public func facts(in text: String) -> Set<String> { Set(parser.parse(text).map(\.canonical)) }
    /// Abnormal calls and located facts are findings (they count towards the hallucination rate).
    public func isFinding(_ fact: String) -> Bool {
        if fact.contains("@") { return true }
        guard let d = fact.split(separator: "=").last, let dir = FindingDirection(rawValue: String(d)) else { return false }
        return dir.isAbnormal
    }

    /// Fact precision, recall, F1 (micro-averaged), hallucination rate and localization accuracy of
    /// `generated` texts against `reference` texts (pairwise, same order).
    /// - Precondition: equal counts.
    public func score(generated: [String], reference: [String]) -> FactScore {
        precondition(generated.count == reference.count, "KnowledgeFactScorer.score: \(generated.count) generated vs \(reference.count) reference texts")
        return FactScore(pairs: zip(generated, reference).map { (facts(in: $0), facts(in: $1)) }, isFinding: isFinding)
    }
}
