import Foundation
import SkaldTestSupport
import Testing

@testable import Skald

/// `CanonicalJSONEncoder` must write exactly the bytes of Foundation's `JSONEncoder`
/// as `JSONCoding.foundationEncoder()` configures it.
@Suite struct CanonicalJSONEncoderTests {
    /// Foundation's bytes, or its error.
    func foundation(_ value: some Encodable) -> Result<[UInt8], any Error> {
        Result { Array(try JSONCoding.foundationEncoder().encode(value)) }
    }

    func text(_ bytes: [UInt8]?) -> String {
        bytes.map { String(decoding: $0, as: UTF8.self) } ?? "nil"
    }

    /// The fast path alone must produce Foundation's bytes, without falling back.
    func expectFastAndEqual(_ value: some Encodable, _ label: @autoclosure () -> String, sourceLocation: SourceLocation = #_sourceLocation) {
        let fast = CanonicalJSONEncoder.encodeWithoutFallback(value)
        switch foundation(value) {
        case .success(let expected):
            #expect(fast == expected, "\(label())\nfast:       \(text(fast))\nfoundation: \(text(expected))", sourceLocation: sourceLocation)
        case .failure(let error):
            Issue.record("\(label()): Foundation threw \(error)", sourceLocation: sourceLocation)
        }
    }

    /// With the fallback the public path must match Foundation whatever happens: the same
    /// bytes, or an error where Foundation throws one.
    func expectSameResult(_ value: some Encodable, _ label: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let ours = Result { try CanonicalJSONEncoder.encode(value) }
        switch (ours, foundation(value)) {
        case (.success(let bytes), .success(let expected)):
            #expect(bytes == expected, "\(label)\nours:       \(text(bytes))\nfoundation: \(text(expected))", sourceLocation: sourceLocation)
        case (.failure(let error), .failure(let expected)):
            #expect("\(error)" == "\(expected)", "\(label)", sourceLocation: sourceLocation)
        case (let ours, let expected):
            Issue.record("\(label): ours \(ours), Foundation \(expected)", sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: 0..<8)
    func randomValuesEncodeLikeFoundation(batch: Int) {
        for index in 0..<500 {
            let seed = UInt64(batch * 500 + index)
            var generator = SampleGenerator(seed: seed)
            var value = generator.sample(depth: 4)
            // A document that writes nothing is an error (tested on its own).
            if case .nothing = value { value = .array([value]) }
            expectFastAndEqual(value, "seed \(seed): \(value)")
            // Most single samples are leaves; a document of several is where nesting happens.
            let document = Sample.members((0..<4).map { ("k\($0)", generator.sample(depth: 4)) })
            expectFastAndEqual(document, "document of seed \(seed): \(document)")
            if seed % 5 == 0 { expectFastAndEqual(generator.record(depth: 2), "record of seed \(seed)") }
            if seed % 5 == 1 { expectFastAndEqual(generator.json(depth: 4), "JSONValue of seed \(seed)") }
        }
    }

    @Test func scalarsAtTheTopLevel() {
        for value in SampleGenerator.doubles + SampleGenerator.doubles.map({ -$0 }) {
            expectFastAndEqual(value, "\(value)")
            expectFastAndEqual([value], "[\(value)]")
        }
        for value in SampleGenerator.floats { expectFastAndEqual(value, "\(value)") }
        expectFastAndEqual([Int8.min, Int8.max].map(Int64.init), "Int8")
        expectFastAndEqual(Int8.min, "Int8.min")
        expectFastAndEqual(Int16.min, "Int16.min")
        expectFastAndEqual(Int32.min, "Int32.min")
        expectFastAndEqual(Int64.min, "Int64.min")
        expectFastAndEqual(Int.max, "Int.max")
        expectFastAndEqual(UInt64.max, "UInt64.max")
        expectFastAndEqual(UInt8.max, "UInt8.max")
        expectFastAndEqual(Int128.min, "Int128.min")
        expectFastAndEqual(UInt128.max, "UInt128.max")
        expectFastAndEqual(true, "true")
        expectFastAndEqual(Optional<Int>.none, "nil")
        expectFastAndEqual("", "empty string")
        expectFastAndEqual(Date(timeIntervalSince1970: 1_795_000_000.123456), "date")
        expectFastAndEqual(Data([0, 1, 2, 250]), "data")
        expectFastAndEqual(Decimal(string: "-12.5e-3") ?? 0, "decimal")
        expectFastAndEqual(URL(string: "https://example.com/a/b?c=d&e=/f") ?? URL(fileURLWithPath: "/"), "url")
        expectFastAndEqual(JSONValue.number(1e300), "JSONValue")
        // Foundation's special types behind an optional (its `as? Date` cast sees through it).
        let date = Date(timeIntervalSince1970: 1_700_000_000.5)
        expectFastAndEqual(["a": Optional(date), "b": nil], "optional dates")
        expectFastAndEqual([Optional(Data([1, 2, 3])), nil], "optional data")
        expectFastAndEqual([URL(string: "file:///a%20b"), nil], "optional URLs")
        expectFastAndEqual([Optional(Decimal(string: "0.1") ?? 0)], "optional decimals")
        expectFastAndEqual(Optional(Optional(date)), "a doubly optional date")
        // Every control character, DEL, the line separators and characters beyond the BMP, alone and in context.
        for scalar in Array(0..<0x20) + [0x22, 0x2F, 0x5C, 0x7F, 0x80, 0x2028, 0x2029, 0xFEFF, 0x1F600, 0x10FFFF] {
            let character = String(Character(Unicode.Scalar(UInt32(scalar)) ?? "?"))
            expectFastAndEqual(character, "U+\(String(scalar, radix: 16))")
            expectFastAndEqual(["x\(character)y": "a\(character)\(character)b/"], "U+\(String(scalar, radix: 16)) in a key")
        }
    }

    @Test func keysSortByTheirUTF8Bytes() {
        var members: [String: Int] = [:]
        for (position, key) in SampleGenerator.keys.enumerated() { members[key] = position }
        expectFastAndEqual(members, "all sample keys")
        let bytes = CanonicalJSONEncoder.encodeWithoutFallback(["b": 1, "B": 2, "a": 3, "10": 4, "9": 5, "": 6, "é": 7, "z": 8])
        #expect(text(bytes) == #"{"":6,"10":4,"9":5,"B":2,"a":3,"b":1,"z":8,"é":7}"#)
        // Many members take the library sort instead of the insertion sort.
        var many: [String: Int] = [:]
        var random = SplitMix64(seed: 7)
        for index in 0..<300 { many["k\(random.next() % 1000)-\(index % 7)"] = index }
        expectFastAndEqual(many, "300 members")
    }

    @Test func nonFiniteNumbersThrowAsInFoundation() {
        for value in [Double.nan, .infinity, -.infinity, .signalingNaN] {
            #expect(throws: EncodingError.self) { try CanonicalJSONEncoder.encode(value) }
            #expect(CanonicalJSONEncoder.encodeWithoutFallback(value) == nil)
            expectSameResult(value, "\(value)")
            expectSameResult([1, value], "[1, \(value)]")
            expectSameResult(["a": value], "{a: \(value)}")
            expectSameResult(Sample.record(SampleRecord(
                name: "", small: 0, medium: nil, big: 0, ratio: value, single: 0, flag: true, when: nil, tags: [], scores: [:],
                children: [], extra: nil, zName: nil, Name: nil)), "record with \(value)")
            expectSameResult(Sample.shape(.circle(radius: value)), "nested container with \(value)")
        }
        for value in [Float.nan, .infinity, -.infinity] {
            #expect(throws: EncodingError.self) { try CanonicalJSONEncoder.encode(value) }
            expectSameResult(["x": [value]], "Float \(value)")
        }
        #expect(throws: EncodingError.self) { try Payload(Sample.double(.nan)).jsonBytes() }
    }

    @Test func whatTheFastPathLeavesToFoundationStillMatches() {
        // The same name twice (Foundation keeps the last value), also as canonically equivalent strings.
        expectSameResult(Sample.members([("a", .int(1)), ("b", .int(2)), ("a", .string("again"))]), "duplicate key")
        expectSameResult(Sample.members([("é", .int(1)), ("e\u{301}", .int(2))]), "canonically equivalent keys")
        expectSameResult(Sample.members([("K", .int(1)), ("\u{212A}", .int(2))]), "Kelvin sign and K")
        #expect(CanonicalJSONEncoder.encodeWithoutFallback(Sample.members([("a", .int(1)), ("a", .int(2))])) == nil)
        // A container used again after a sibling was started.
        expectSameResult(Interleaved(), "interleaved nested containers")
        // Super encoders of an array: used at once, and never used ({}), in place.
        expectFastAndEqual(UnkeyedSuper(), "super encoders in an array")
        // A value that writes nothing at the top level is an error; nested it is {}.
        expectSameResult(Sample.nothing, "nothing at the top level")
        expectFastAndEqual([Sample.nothing], "nothing in an array")
        // Deeper than Foundation allows, and just under.
        var deep = Sample.int(1)
        for _ in 0..<600 { deep = .array([deep]) }
        expectSameResult(deep, "600 nested arrays")
        var deepish = Sample.int(1)
        for _ in 0..<450 { deepish = .array([deepish]) }
        expectSameResult(deepish, "450 nested arrays")
        // A throwing value: Foundation's own error comes back.
        expectSameResult(Throwing(), "a value that throws")
        #expect(throws: Throwing.Failure.self) { try CanonicalJSONEncoder.encode(["x": Throwing()]) }
    }

    @Test func codingPathsAreFoundations() throws {
        let fast = try #require(CanonicalJSONEncoder.encodeWithoutFallback(["a": [PathReporter(), PathReporter()]]))
        let expected = try JSONCoding.foundationEncoder().encode(["a": [PathReporter(), PathReporter()]])
        #expect(fast == Array(expected))
        // Foundation leaves the nested container's key out of the super encoder's path.
        #expect(text(fast).contains(#""super":"a/Index 1/super""#))
        let deeper = [Sample.shape(.wrapped(.derived(SampleDerived(base: 1, label: "x", child: .nothing))))]
        let reporters = Sample.array([.nestedArrays([[.nothing]]), deeper[0]])
        expectFastAndEqual(NestedPaths(inner: reporters), "paths below nested containers")
    }

    @Test func storedEventsAndPayloadsUseTheFastPath() throws {
        var generator = SampleGenerator(seed: 3)
        let payload = Payload(Sample.record(generator.record(depth: 1)))
        #expect(try payload.jsonBytes() == Array(JSONCoding.foundationEncoder().encode(AnyEncodable(payload.value))))
        // A bare Date payload is written by Date's own encode(to:), as before: a number.
        #expect(try Payload(Date(timeIntervalSince1970: 0)).jsonBytes() == Array("-978307200".utf8))
    }
}

/// Starts two nested containers, then writes to the first.
private struct Interleaved: Encodable {
    enum Keys: String, CodingKey { case first, second, value }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        var first = container.nestedContainer(keyedBy: Keys.self, forKey: .first)
        var second = container.nestedContainer(keyedBy: Keys.self, forKey: .second)
        try second.encode(2, forKey: .value)
        try first.encode(1, forKey: .value)
    }
}

/// Writes elements through super encoders of an unkeyed container.
private struct UnkeyedSuper: Encodable {
    func encode(to encoder: any Encoder) throws {
        var container = encoder.unkeyedContainer()
        try container.encode(1)
        try Sample.members([("b", .int(2)), ("a", .string("x"))]).encode(to: container.superEncoder())
        _ = container.superEncoder()
        try container.encode(3)
        var nested = container.nestedUnkeyedContainer()
        try Sample.int(4).encode(to: nested.superEncoder())
        try nested.encode(container.count)
    }
}

/// Throws its own error.
private struct Throwing: Encodable {
    struct Failure: Error {}

    func encode(to encoder: any Encoder) throws {
        var container = encoder.unkeyedContainer()
        try container.encode(1)
        throw Failure()
    }
}

/// Writes the coding paths it sees.
private struct PathReporter: Encodable {
    enum Keys: String, CodingKey { case path, nested }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(encoder.codingPath.map(\.stringValue).joined(separator: "/"), forKey: .path)
        var nested = container.nestedContainer(keyedBy: Keys.self, forKey: .nested)
        let sub = nested.superEncoder()
        var single = sub.singleValueContainer()
        try single.encode(sub.codingPath.map(\.stringValue).joined(separator: "/"))
        try nested.encode(nested.codingPath.map(\.stringValue).joined(separator: "/"), forKey: .path)
    }
}

/// Reports coding paths from values inside nested keyed and unkeyed containers.
private struct NestedPaths: Encodable {
    let inner: Sample
    enum Keys: String, CodingKey { case outer, list, value }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        var outer = container.nestedContainer(keyedBy: Keys.self, forKey: .outer)
        var list = outer.nestedUnkeyedContainer(forKey: .list)
        try list.encode(PathReporter())
        var deeper = list.nestedContainer(keyedBy: Keys.self)
        try deeper.encode(PathReporter(), forKey: .value)
        try deeper.encode(list.codingPath.map(\.stringValue), forKey: .list)
        try outer.encode(inner, forKey: .value)
        try container.encode(PathReporter(), forKey: .value)
    }
}

extension CanonicalJSONEncoderTests {
    @Test func storedFixtureEventsTakeTheFastPath() throws {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/events-v1", withExtension: "jsonl"))
        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map { Array($0.utf8) }
        for line in lines {
            let event = try SagaEvent.decode(jsonBytes: line)
            #expect(CanonicalJSONEncoder.encodeWithoutFallback(event) == line, "\(String(decoding: line, as: UTF8.self))")
        }
    }
}
