import Foundation
@testable import SkaldRuntime
import SkaldTestSupport
import Testing

/// The pump's cheap JSON check must agree with a real parser, or it would let a payload
/// through that cannot be decoded (or dead-letter one that can).
@Suite struct JSONSyntaxTests {
    @Test func acceptsJSONAndRejectsTheRest() {
        let valid = [
            #"{}"#, #"[]"#, #"0"#, #"-0.5e+10"#, #"  "text"  "#, #"true"#, #"null"#,
            #"{"a":[1,2,{"b":null}],"c":"\u00e9\n\"","d":-12.5E-3}"#, #"[[[[[]]]]]"#,
        ]
        let invalid = [
            "", " ", "{", "}", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "01", "1.", ".5", "-", "1e", "+1",
            "tru", "nul", "\"unterminated", "\"bad \\x escape\"", "\"\\u12\"", "[1] [2]", "\"tab\there\"",
            String(repeating: "[", count: 600) + String(repeating: "]", count: 600),
        ]
        for text in valid + [#""é 😀 \ud83d\ude00""#] { #expect(JSONSyntax.isValid(Array(text.utf8)), "\(text)") }
        for text in invalid + [#""\ud800""#, #""\udc00""#, #""\ud83d\u0041""#] {
            #expect(!JSONSyntax.isValid(Array(text.utf8)), "\(text)")
        }
        // Not UTF-8: a stray continuation byte, an overlong "/", a truncated sequence, an encoded surrogate.
        for bytes: [UInt8] in [[0x22, 0x80, 0x22], [0x22, 0xC0, 0xAF, 0x22], [0x22, 0xE2, 0x82, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22]] {
            #expect(!JSONSyntax.isValid(bytes), "\(bytes)")
            #expect((try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])) == nil)
        }
    }

    /// Random documents, mutated byte by byte, judged by both: they must agree.
    @Test func agreesWithFoundationOnMutatedDocuments() throws {
        var random = SplitMix64(seed: 20261125)
        let alphabet = Array(#"{}[]":,.-+eE0123456789 truefalsn\"#.utf8) + [0x0A, 0x09]
        for round in 0..<4_000 {
            var bytes = Array(Self.document(depth: 0, random: &random).utf8)
            for _ in 0..<Int(random.next() % 3) where !bytes.isEmpty {
                let position = Int(random.next() % UInt64(bytes.count))
                switch random.next() % 3 {
                case 0: bytes.remove(at: position)
                case 1: bytes.insert(alphabet[Int(random.next() % UInt64(alphabet.count))], at: position)
                default: bytes[position] = alphabet[Int(random.next() % UInt64(alphabet.count))]
                }
            }
            let foundation = (try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])) != nil
            #expect(JSONSyntax.isValid(bytes) == foundation, "round \(round): \(String(decoding: bytes, as: UTF8.self))")
        }
    }

    private static func document(depth: Int, random: inout SplitMix64) -> String {
        switch random.next() % (depth > 3 ? 4 : 6) {
        case 0: return String(Int64(bitPattern: random.next()) % 100_000)
        case 1: return ["\"plain\"", "\"esc\\\"aped\\n\"", "\"\\u00e9t\\u00e9\"", "\"\""][Int(random.next() % 4)]
        case 2: return ["true", "false", "null", "-0.25", "1e5", "3.5E-2"][Int(random.next() % 6)]
        case 3: return "\"k\(random.next() % 10)\""
        case 4:
            let count = Int(random.next() % 4)
            return "[" + (0..<count).map { _ in document(depth: depth + 1, random: &random) }.joined(separator: ",") + "]"
        default:
            let count = Int(random.next() % 4)
            return "{" + (0..<count).map { index in "\"f\(index)\": " + document(depth: depth + 1, random: &random) }
                .joined(separator: ", ") + "}"
        }
    }
}
