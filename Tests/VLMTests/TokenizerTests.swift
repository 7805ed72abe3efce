import XCTest
@testable import VLM

/// The tokenizer: exact round trips (with unknown words and characters), special ids, JSON persistence.
final class TokenizerTests: XCTestCase {
    let corpus = ["Stage: NPDR\nThe FAZ is enlarged (0.52 mm2; healthy 0.22-0.36).",
                  "Perfusion density is reduced. Microaneurysms: 12, mostly nasal.",
                  "The FAZ is within the healthy range. No neovascularization is seen."]

    func testRoundTripIncludingUnknownWordsAndCharacters() {
        let tok = Tokenizer.train(texts: corpus, maxVocab: 400)
        for s in corpus + ["Quasiperiodic zygomorphic  double  spaces\n\nand newlines", "naïve café — 糖尿病 🩸 µm²",
                           "", " leading space", "trailing space ", "Stage: PDR"] {
            XCTAssertEqual(tok.decode(tok.encode(s)), s, "round trip of \(s.debugDescription)")
        }
        XCTAssertFalse(tok.encode("糖尿病").contains(Tokenizer.unk), "unknown characters fall back to bytes, never <unk>")
    }

    func testFrequentWordsAreSingleTokensAndSpecialsAreFixed() {
        let tok = Tokenizer.train(texts: corpus, maxVocab: 400)
        XCTAssertEqual(tok.encode(" FAZ").count, 1, "a frequent word with its leading space is one token")
        XCTAssertEqual(Array(tok.tokens.prefix(6)), Tokenizer.specialNames)
        XCTAssertEqual(tok.decode([Tokenizer.human, Tokenizer.eos]), "", "special tokens decode to no text")
        let capped = Tokenizer.train(texts: corpus, maxVocab: 300)
        XCTAssertLessThanOrEqual(capped.vocabSize, max(300, Tokenizer.firstPieceID + 64))
        XCTAssertEqual(capped.decode(capped.encode(corpus[0])), corpus[0])
    }

    func testJSONRoundTripGivesTheSameEncoding() throws {
        let tok = Tokenizer.train(texts: corpus, maxVocab: 400)
        let dir = Fixtures.tempDir("tok")
        try tok.save(to: dir + "/tokenizer.json")
        let back = try Tokenizer.load(path: dir + "/tokenizer.json")
        XCTAssertEqual(back.tokens, tok.tokens)
        XCTAssertEqual(back.encode(corpus[1]), tok.encode(corpus[1]))
    }

    func testMalformedTokenizerFileIsATypedError() throws {
        let dir = Fixtures.tempDir("badtok")
        try Data("{\"tokens\": [\"a\"]}".utf8).write(to: URL(fileURLWithPath: dir + "/t.json"))
        XCTAssertThrowsError(try Tokenizer.load(path: dir + "/t.json")) { e in
            guard case VLMError.badTokenizer(let p, _) = e else { return XCTFail("\(e)") }
            XCTAssertTrue(p.hasSuffix("t.json"))
        }
        XCTAssertThrowsError(try Tokenizer.load(path: dir + "/missing.json"))
    }
}
