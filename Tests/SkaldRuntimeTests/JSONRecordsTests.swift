import Foundation
@testable import SkaldRuntime
import Testing

/// The pump binds every batch as JSON written by `JSONRecords`: whatever it writes must read
/// back, through a real JSON parser, as exactly the values it was given.
@Suite struct JSONRecordsTests {
    private static let alphabet: [Character] = ["a", "Z", "0", " ", "\"", "\\", "\n", "\r", "\t", "\u{00}", "\u{08}", "\u{1F}", "é", "€", "😀", "/"]

    private static func randomText(_ generator: inout some RandomNumberGenerator) -> String {
        String((0..<Int.random(in: 0...16, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! })
    }

    private static func randomInteger(_ generator: inout some RandomNumberGenerator) -> Int {
        switch Int.random(in: 0..<4, using: &generator) {
        case 0: [0, 1, -1, 9, 10, Int.max, Int.min, Int.min + 1].randomElement(using: &generator)!
        case 1: Int.random(in: -1_000...1_000, using: &generator)
        default: Int.random(in: Int.min...Int.max, using: &generator)
        }
    }

    @Test func recordsReadBackAsTheirValues() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            var records = JSONRecords()
            var expected: [(text: String?, number: Int?)] = []
            for _ in 0..<Int.random(in: 0...6, using: &generator) {
                let text: String? = Bool.random(using: &generator) ? Self.randomText(&generator) : nil
                let number: Int? = Bool.random(using: &generator) ? Self.randomInteger(&generator) : nil
                records.beginRecord()
                records.field("text", text)
                records.field("number", number)
                records.field("nested", json: Array(#"{"a":[1,2]}"#.utf8))
                records.endRecord()
                expected.append((text, number))
            }
            let bytes = try #require(records.value.text)
            #expect(String(decoding: bytes, as: UTF8.self) == records.text)
            let parsed = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [[String: Any]])
            #expect(parsed.count == expected.count)
            for (row, values) in zip(parsed, expected) {
                #expect(row["text"] as? String == values.text)
                #expect((row["text"] is NSNull) == (values.text == nil))
                #expect((row["number"] as? NSNumber)?.int64Value == values.number.map(Int64.init))
                #expect((row["number"] is NSNull) == (values.number == nil))
                #expect((row["nested"] as? [String: [Int]]) == ["a": [1, 2]])
            }
        }
    }

    @Test func objectWriterReadsBackAsItsMembers() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            var writer = JSONRecords.ObjectWriter()
            var expected: [String: Int] = [:]
            for _ in 0..<Int.random(in: 0...6, using: &generator) {
                let name = Self.randomText(&generator)
                guard expected[name] == nil else { continue }
                let value = Self.randomInteger(&generator)
                writer.field(name, value)
                expected[name] = value
            }
            let bytes = try #require(writer.value.text)
            #expect(String(decoding: bytes, as: UTF8.self) == writer.text)
            let parsed = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: NSNumber])
            #expect(parsed.mapValues { Int($0.int64Value) } == expected)
        }
    }

    @Test func stringArraysReadBackAsTheirStrings() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            let values = (0..<Int.random(in: 0...6, using: &generator)).map { _ in Self.randomText(&generator) }
            let text = JSONRecords.array(values)
            #expect(try JSONDecoder().decode([String].self, from: Data(text.utf8)) == values)
        }
    }
}
