import Foundation
import SkaldExamples
import SkaldTestSupport
import Testing

@testable import Skald

/// `JSONTape` must decode exactly what Foundation's `JSONDecoder` decodes, or give up.
@Suite struct JSONTapeTests {
    /// Values equal down to the bits of every number (`==` would take -0.0 for 0.0).
    func same(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.number(let x), .number(let y)): return x.bitPattern == y.bitPattern
        case (.string(let x), .string(let y)): return x == y && Array(x.utf8) == Array(y.utf8)
        case (.array(let x), .array(let y)): return x.count == y.count && zip(x, y).allSatisfy { same($0, $1) }
        case (.object(let x), .object(let y)):
            return x.count == y.count && x.allSatisfy { key, value in y[key].map { same(value, $0) } ?? false }
        default: return false
        }
    }

    func foundationJSON(_ bytes: [UInt8]) -> JSONValue? {
        try? JSONDecoder().decode(JSONValue.self, from: Data(bytes))
    }

    func fastJSON(_ bytes: [UInt8]) -> JSONValue? {
        JSONTape.decode(bytes) { try JSONValue(from: $0) }
    }

    func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    /// Whatever the fast path returns, Foundation returns too.
    func expectSafe(_ bytes: [UInt8], _ label: @autoclosure () -> String, sourceLocation: SourceLocation = #_sourceLocation) {
        guard let fast = fastJSON(bytes) else { return }
        guard let expected = foundationJSON(bytes) else {
            Issue.record("\(label()): fast path decoded what Foundation rejects: \(text(bytes))", sourceLocation: sourceLocation)
            return
        }
        #expect(same(fast, expected), "\(label()): \(text(bytes))", sourceLocation: sourceLocation)
    }

    func fixtureLines(_ name: String) throws -> [[UInt8]] {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: "jsonl"))
        return try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map { Array($0.utf8) }
    }

    @Test func storedEventsDecodeOnTheFastPathAsFoundationDoes() throws {
        let context = placeOrder.engine.decodingContext
        for line in try fixtureLines("events-v1") + fixtureLines("events-v1-operator") {
            let generic = JSONTape.decode(line) { try SagaEvent(from: $0) }
            #expect(generic != nil, "\(text(line))")
            #expect(generic == (try JSONDecoder().decode(SagaEvent.self, from: Data(line))), "\(text(line))")
            let typed = JSONTape.decode(line, userInfo: [EventDecodingContext.key: context]) { try SagaEvent(from: $0) }
            let foundation = JSONDecoder()
            foundation.userInfo[EventDecodingContext.key] = context
            let expected = try foundation.decode(SagaEvent.self, from: Data(line))
            #expect(typed != nil && typed == expected, "\(text(line))")
            if case .stepSucceeded(_, _, _, _, let payload) = typed?.kind, case .stepSucceeded(_, _, _, _, let other) = expected.kind {
                #expect(type(of: payload.value) == type(of: other.value))
            }
        }
    }

    @Test(arguments: 0..<4)
    func randomDocumentsDecodeAsInFoundation(batch: Int) throws {
        for index in 0..<500 {
            let seed = UInt64(batch * 500 + index)
            var generator = SampleGenerator(seed: seed)
            let document = Sample.members((0..<4).map { ("k\($0)", generator.sample(depth: 4)) })
            let bytes = Array(try JSONCoding.foundationEncoder().encode(document))
            let fast = fastJSON(bytes)
            let expected = try #require(foundationJSON(bytes))
            #expect(fast.map { same($0, expected) } == true, "seed \(seed): \(text(bytes))")
            // Typed: a struct with every scalar type, optionals and nesting.
            let record = generator.record(depth: 2)
            let recordBytes = Array(try JSONCoding.foundationEncoder().encode(record))
            let typed = JSONTape.decode(recordBytes) { try DecodedRecord(from: $0) }
            let typedExpected = try? JSONDecoder().decode(DecodedRecord.self, from: Data(recordBytes))
            // A record with a date leaves it to Foundation (Date is special there; a plain
            // JSONDecoder even fails on these timestamps); others must be fast and equal.
            func hasDate(_ record: SampleRecord) -> Bool { record.when != nil || record.children.contains(where: hasDate) }
            if !hasDate(record) {
                #expect(typed != nil && typed == typedExpected, "record of seed \(seed): \(text(recordBytes))")
            } else {
                #expect(typed == nil, "record of seed \(seed)")
            }
        }
    }

    @Test(arguments: 0..<4)
    func mutatedDocumentsNeverDecodeWhereFoundationWouldNot(batch: Int) throws {
        let noise: [UInt8] = Array(#"{}[]:,"\ /-+.eE0123456789aeflnrstuU"#.utf8) + [0, 0x1F, 0x7F, 0x80, 0xC3, 0xA9, 0xED, 0xFF]
        for index in 0..<1000 {
            let seed = UInt64(10_000 + batch * 1000 + index)
            var generator = SampleGenerator(seed: seed)
            var bytes = Array(try JSONCoding.foundationEncoder().encode(Sample.members([("a", generator.sample(depth: 3)), ("b", generator.sample(depth: 2))])))
            for _ in 0..<(1 + generator.random.below(3)) where !bytes.isEmpty {
                let position = generator.random.below(bytes.count)
                switch generator.random.below(3) {
                case 0: bytes.remove(at: position)
                case 1: bytes.insert(generator.random.pick(noise), at: position)
                default: bytes[position] = generator.random.pick(noise)
                }
            }
            expectSafe(bytes, "seed \(seed)")
            if let typed = JSONTape.decode(bytes, { try MutatedShape(from: $0) }) {
                #expect(typed == (try? JSONDecoder().decode(MutatedShape.self, from: Data(bytes))), "typed, seed \(seed): \(text(bytes))")
            }
        }
    }

    @Test(arguments: 0..<2)
    func mutatedEventRowsDecodeAsInFoundationOrNotAtAll(batch: Int) throws {
        let lines = try fixtureLines("events-v1") + fixtureLines("events-v1-operator")
        let context = placeOrder.engine.decodingContext
        let foundation = JSONDecoder()
        foundation.userInfo[EventDecodingContext.key] = context
        let noise: [UInt8] = Array(#"{}[]:,"\ /-+.eE0123456789aeflnrstuU"#.utf8) + [0, 0x1F, 0x7F, 0x80, 0xC3, 0xA9, 0xED, 0xFF]
        var random = SplitMix64(seed: UInt64(100 + batch))
        for attempt in 0..<1500 {
            var bytes = random.pick(lines)
            for _ in 0..<(1 + random.below(2)) {
                let position = random.below(bytes.count)
                switch random.below(3) {
                case 0: bytes.remove(at: position)
                case 1: bytes.insert(random.pick(noise), at: position)
                default: bytes[position] = random.pick(noise)
                }
            }
            if let typed = JSONTape.decode(bytes, userInfo: [EventDecodingContext.key: context], { try SagaEvent(from: $0) }) {
                #expect(typed == (try? foundation.decode(SagaEvent.self, from: Data(bytes))), "batch \(batch) #\(attempt): \(text(bytes))")
            }
            if let generic = JSONTape.decode(bytes, { try SagaEvent(from: $0) }) {
                #expect(generic == (try? JSONDecoder().decode(SagaEvent.self, from: Data(bytes))), "batch \(batch) #\(attempt): \(text(bytes))")
            }
        }
    }

    @Test func edgeCases() {
        let documents = [
            "0", "-0", "-0.0", "0e0", "1E+2", "1e-2", "-1.5e300", "1e400", "-1e400", "1e-400", "0.0e-400", "4.9e-324", "2.4703282292062328e-324",
            "123456789012345678901234567890", "9007199254740993", "-9223372036854775808", "18446744073709551615",
            "01", "-", "1.", ".5", "+1", "1e", "0x10", "NaN", "Infinity", "  true ", "\t\nnull\r", "tru", "nulll", "[1,]", "[,1]", "{,}",
            #"{"a":1,}"#, #"{"a" 1}"#, #"{'a':1}"#, "[1 2]", #"{"a":1}x"#, "", " ", #""\u0000""#, #""\u00e9\u00E9""#, #""\ud83d\ude00""#,
            #""\ud83d""#, #""\x""#, #""\/\b\f\n\r\t\"\\""#, "\"a\u{1}\"", "\"tab\there\"", #"{"é":1,"é":2}"#, #"{"a":1,"a":2}"#,
            #"{"K":1,"K":2}"#, "\u{FEFF}{}", "[[[[[[[[[[]]]]]]]]]]", #"{"a":[{"b":{"c":[null,true,false,"x",-1.25e-7]}}]}"#,
        ]
        for document in documents { expectSafe(Array(document.utf8), "edge case") }
        for bytes: [UInt8] in [[0xEF, 0xBB, 0xBF, 0x31], [0x31, 0x00], [0x00, 0x31], [0x22, 0xC3, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0xFF, 0x22]] {
            expectSafe(bytes, "raw bytes \(bytes)")
        }
        #expect(fastJSON(Array("1e400".utf8)) == nil)
        #expect(fastJSON(Array("[1e-400]".utf8)) == nil)
        #expect(fastJSON(Array(#"{"a":1,"a":2}"#.utf8)) == nil)
        #expect(fastJSON(Array(#"[1, {"a": "x\n"}, -0.0]"#.utf8)) != nil)
        var deep = String(repeating: "[", count: 450) + String(repeating: "]", count: 450)
        #expect(fastJSON(Array(deep.utf8)) == nil)
        deep = String(repeating: "[", count: 300) + String(repeating: "]", count: 300)
        expectSafe(Array(deep.utf8), "300 nested arrays")
    }

    @Test func namesAreFoundByStringEqualityFirstOneWins() throws {
        let documents = [
            #"{"a":1,"a":2}"#, #"{"é":3,"é":4}"#, "{\"e\u{301}\":5,\"é\":6}", "{\"\u{212A}\":7}", #"{"K":8,"K":9}"#,
            #"{"a":10}"#, #"{"b":1,"A":2}"#, #"{"ké":11}"#,
        ]
        for document in documents {
            let bytes = Array(document.utf8)
            let expected = try JSONDecoder().decode(Names.self, from: Data(bytes))
            let fast = try #require(JSONTape.decode(bytes) { try Names(from: $0) }, "\(document)")
            #expect(fast == expected, "\(document)")
        }
        // allKeys of an object with equal names is left to Foundation.
        #expect(JSONTape.decode(Array(#"{"a":1,"a":2}"#.utf8)) { try [String: Int](from: $0) } == nil)
        #expect(JSONTape.decode(Array(#"{"a":1,"b":2}"#.utf8)) { try [String: Int](from: $0) } == ["a": 1, "b": 2])
    }

    @Test func numbersDecodeAsInFoundation() throws {
        var random = SplitMix64(seed: 99)
        var literals: [String] = []
        for _ in 0..<3000 {
            let value = Double(bitPattern: random.next())
            guard value.isFinite else { continue }
            literals.append(value.description)
            literals.append(String(format: "%.17e", value))
            literals.append(String(format: "%.3f", value))
            literals.append(String(Int64(bitPattern: random.next()) >> random.below(64)))
            literals.append(String(random.next() >> random.below(64)))
        }
        literals += ["1e-45", "1.4e-45", "3.4028235e38", "3.4028236e38", "1e39", "-0", "0.1", "16777217", "1e-46"]
        for literal in literals where !literal.contains("inf") && !literal.contains("nan") {
            let bytes = Array(literal.utf8)
            let fastDouble = JSONTape.decode(bytes) { try $0.decode(Double.self) }
            let double = try? JSONDecoder().decode(Double.self, from: Data(bytes))
            if let fastDouble { #expect(fastDouble.bitPattern == double?.bitPattern, "Double \(literal)") }
            let fastFloat = JSONTape.decode(bytes) { try Float(from: $0) }
            let float = try? JSONDecoder().decode(Float.self, from: Data(bytes))
            if let fastFloat { #expect(fastFloat.bitPattern == float?.bitPattern, "Float \(literal)") }
            let fastInt = JSONTape.decode(bytes) { try Int64(from: $0) }
            if let fastInt { #expect(fastInt == (try? JSONDecoder().decode(Int64.self, from: Data(bytes))), "Int64 \(literal)") }
            let fastUInt8 = JSONTape.decode(bytes) { try UInt8(from: $0) }
            if let fastUInt8 { #expect(fastUInt8 == (try? JSONDecoder().decode(UInt8.self, from: Data(bytes))), "UInt8 \(literal)") }
        }
    }

    @Test func payloadsOfRepliesDecodeOnTheFastPath() throws {
        let bytes = Array(#"{"orderId":"o-1","sku":"x","extra":[1,2]}"#.utf8)
        let decoded = JSONTape.decode(bytes) { try OutOfStock(from: $0) }
        #expect(decoded?.orderId == "o-1" && decoded?.sku == "x")
        // What the fast path leaves alone still decodes through Foundation, errors included.
        #expect(try Payload(JSONValue.object(["orderId": .string("o-1")])).decode(OrderCreated.self).orderId == "o-1")
        #expect(throws: (any Error).self) { try SagaEvent.decode(jsonBytes: Array(#"{"schema":1}"#.utf8)) }
    }
}

/// The fields of `SampleRecord`, decoded.
struct DecodedRecord: Decodable, Equatable {
    var name: String
    var small: Int8
    var medium: Int32?
    var big: UInt64
    var ratio: Double?
    var single: Float
    var flag: Bool
    var when: Date?
    var tags: [String]
    var scores: [String: Double]
    var children: [DecodedRecord]
    var zName: String?
    var Name: String?
}

/// Looks up names that are equal as Swift strings but not as bytes.
struct Names: Decodable, Equatable {
    var a: Int?
    var é: Int?
    var K: Int?
    var kè: Int?

    enum CodingKeys: String, CodingKey {
        case a, é = "\u{E9}", K, kè = "k\u{E9}"
    }
}

/// A typed reader for mutated documents: optional members of several types.
struct MutatedShape: Decodable, Equatable {
    var a: JSONValue?
    var b: [JSONValue]?
}
