import Foundation
import Skald
import SkaldTestSupport

/// A random value for the canonical JSON property tests: every way a type can
/// drive an `Encoder` that Skald's payloads and states plausibly use (synthesized
/// structs, custom enums with nested containers and super encoders, class
/// hierarchies sharing one container, dictionaries, optionals, the special
/// Foundation types), with nasty strings and numbers at the leaves.
indirect enum Sample: Encodable, Sendable {
    case null
    case bool(Bool)
    case string(String)
    case int(Int)
    case int8(Int8)
    case int16(Int16)
    case int32(Int32)
    case int64(Int64)
    case uint(UInt)
    case uint8(UInt8)
    case uint16(UInt16)
    case uint32(UInt32)
    case uint64(UInt64)
    case double(Double)
    case float(Float)
    case date(Date)
    case data(Data)
    case url(URL)
    case decimal(Decimal)
    case json(JSONValue)
    case optional(Sample?)
    case array([Sample])
    case nestedArrays([[Sample]])
    case members([(String, Sample)])
    case dictionary([String: Sample])
    case intDictionary([Int: Sample])
    case record(SampleRecord)
    case shape(SampleShape)
    case derived(SampleDerived)
    case ints([Int])
    case strings([String])
    case doubles([Double])
    case dates([Date])
    /// Encodes nothing at all: Foundation writes `{}`.
    case nothing

    func encode(to encoder: any Encoder) throws {
        switch self {
        case .null:
            var container = encoder.singleValueContainer()
            try container.encodeNil()
        case .bool(let value): try encodeSingle(value, encoder)
        case .string(let value): try encodeSingle(value, encoder)
        case .int(let value): try encodeSingle(value, encoder)
        case .int8(let value): try encodeSingle(value, encoder)
        case .int16(let value): try encodeSingle(value, encoder)
        case .int32(let value): try encodeSingle(value, encoder)
        case .int64(let value): try encodeSingle(value, encoder)
        case .uint(let value): try encodeSingle(value, encoder)
        case .uint8(let value): try encodeSingle(value, encoder)
        case .uint16(let value): try encodeSingle(value, encoder)
        case .uint32(let value): try encodeSingle(value, encoder)
        case .uint64(let value): try encodeSingle(value, encoder)
        case .double(let value): try encodeSingle(value, encoder)
        case .float(let value): try encodeSingle(value, encoder)
        case .date(let value): try encodeSingle(value, encoder)
        case .data(let value): try encodeSingle(value, encoder)
        case .url(let value): try encodeSingle(value, encoder)
        case .decimal(let value): try encodeSingle(value, encoder)
        case .json(let value): try encodeSingle(value, encoder)
        case .optional(let value): try encodeSingle(value, encoder)
        case .array(let values):
            var container = encoder.unkeyedContainer()
            for value in values { try container.encode(value) }
        case .nestedArrays(let rows):
            var container = encoder.unkeyedContainer()
            for row in rows {
                var nested = container.nestedUnkeyedContainer()
                for value in row { try nested.encode(value) }
            }
        case .members(let members):
            var container = encoder.container(keyedBy: SampleKey.self)
            for (key, value) in members { try container.encode(value, forKey: SampleKey(key)) }
        case .dictionary(let value): try encodeSingle(value, encoder)
        case .intDictionary(let value): try encodeSingle(value, encoder)
        case .record(let value): try value.encode(to: encoder)
        case .shape(let value): try value.encode(to: encoder)
        case .derived(let value): try value.encode(to: encoder)
        case .ints(let value): try encodeSingle(value, encoder)
        case .strings(let value): try encodeSingle(value, encoder)
        case .doubles(let value): try encodeSingle(value, encoder)
        case .dates(let value): try encodeSingle(value, encoder)
        case .nothing: break
        }
    }

    private func encodeSingle(_ value: some Encodable, _ encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }
}

/// Any string as a key.
struct SampleKey: CodingKey {
    let stringValue: String
    var intValue: Int? { nil }

    init(_ string: String) { stringValue = string }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// A struct with synthesized `Encodable`: typed `encode(_:forKey:)` overloads and `encodeIfPresent`.
struct SampleRecord: Encodable, Sendable {
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
    var children: [SampleRecord]
    var extra: Sample?
    var zName: String?
    var Name: String?
}

/// An enum with associated values and hand-written `Encodable`, the way sagas' states often are.
enum SampleShape: Encodable, Sendable {
    case circle(radius: Double)
    case rect(width: Int, height: Int)
    case label(String, Sample)
    case wrapped(Sample)
    case none

    enum Keys: String, CodingKey {
        case circle, rect, label, payload, radius, kind, none, wrapped
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        switch self {
        case .circle(let radius):
            try container.encode("circle", forKey: .kind)
            var nested = container.nestedContainer(keyedBy: Keys.self, forKey: .circle)
            try nested.encode(radius, forKey: .radius)
        case .rect(let width, let height):
            var nested = container.nestedUnkeyedContainer(forKey: .rect)
            try nested.encode(width)
            try nested.encode(height)
            try container.encode("rect", forKey: .kind)
        case .label(let text, let payload):
            try container.encode(text, forKey: .label)
            try payload.encode(to: container.superEncoder(forKey: .payload))
        case .wrapped(let payload):
            try payload.encode(to: container.superEncoder())
            try container.encode("wrapped", forKey: .kind)
        case .none:
            try container.encodeNil(forKey: .none)
            _ = container.superEncoder(forKey: .wrapped)  // never used: Foundation writes {}
        }
    }
}

/// A class hierarchy: subclass and superclass share the encoder's keyed container,
/// and the superclass is also written through `superEncoder()`. Immutable, so sendable.
class SampleBase: Encodable, @unchecked Sendable {
    let base: Int
    let label: String

    init(base: Int, label: String) {
        self.base = base
        self.label = label
    }

    enum Keys: String, CodingKey { case base, label }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(base, forKey: .base)
        try container.encode(label, forKey: .label)
    }
}

final class SampleDerived: SampleBase, @unchecked Sendable {
    let child: Sample

    init(base: Int, label: String, child: Sample) {
        self.child = child
        super.init(base: base, label: label)
    }

    enum DerivedKeys: String, CodingKey { case child, Zebra, alpha }

    override func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: DerivedKeys.self)
        try container.encode(child, forKey: .child)
        try super.encode(to: encoder)
        try container.encode(true, forKey: .Zebra)
        try super.encode(to: container.superEncoder())
    }
}

/// Draws random samples from a seeded generator.
struct SampleGenerator {
    var random: SplitMix64

    init(seed: UInt64) {
        random = SplitMix64(seed: seed)
    }

    /// Characters that stress escaping and sorting.
    static let characters: [String] = [
        "a", "b", "z", "A", "B", "Z", "0", "1", "9", " ", "_", "-", ".", "\"", "\\", "/", "//", "\u{0}", "\u{1}",
        "\u{7}", "\u{8}", "\u{9}", "\u{A}", "\u{B}", "\u{C}", "\u{D}", "\u{E}", "\u{F}", "\u{10}", "\u{19}",
        "\u{1A}", "\u{1F}", "\u{7F}", "\u{80}", "\u{A0}", "\u{2028}", "\u{2029}", "é", "e\u{301}", "ß", "ẞ",
        "\u{212A}", "K", "😀", "👩‍👩‍👧", "🇩🇪", "中文", "\u{FEFF}", "\u{FFFD}", "\u{10FFFF}", "\u{D7FF}", "\u{E000}",
    ]

    static let keys: [String] = [
        "", "a", "A", "b", "B", "aa", "aA", "Aa", "a\u{0}", "a b", "10", "9", "1", "01", "é", "e\u{301}", "\u{212A}",
        "K", "k", "z", "Z", "😀", "中", "\"", "\\", "/", "key", "Key", "KEY", "super", "payload", "\u{1F}", "\u{7F}",
    ]

    static let doubles: [Double] = [
        0, -0.0, 1, -1, 0.1, 0.2, 0.30000000000000004, 1e-7, 1e-6, 1.5e-5, 1e21, 1e22, 1e15, 1e16, 1e17,
        9007199254740992, 1.0 / 3, 2.5, 100, 1234.5678, -98765.4321,
        Double.leastNonzeroMagnitude, Double.leastNormalMagnitude, Double.greatestFiniteMagnitude, -Double.greatestFiniteMagnitude,
        Double.pi, Double.ulpOfOne, 1.7976931348623157e308, 8.98846567431158e307,
    ] + ["123456789012345680000", "9007199254740993", "5e-324", "4.9406564584124654e-324"].compactMap { Double($0) }  // inexact literals

    static let floats: [Float] = [
        0, -0.0, 1, 0.1, 1e-7, 1e21, 3.4028235e38, Float.leastNonzeroMagnitude, Float.pi, 1.0 / 3,
    ] + ["16777217"].compactMap { Float($0) }

    mutating func string() -> String {
        var text = ""
        for _ in 0..<random.below(9) {
            if random.chance(10) {
                text.unicodeScalars.append(Unicode.Scalar(UInt8(random.below(0x20))))
            } else {
                text += random.pick(Self.characters)
            }
        }
        return text
    }

    mutating func key() -> String {
        random.chance(70) ? random.pick(Self.keys) : string()
    }

    mutating func double() -> Double {
        switch random.below(5) {
        case 0: return random.pick(Self.doubles)
        case 1:
            let value = Double(bitPattern: random.next())
            return value.isFinite ? value : 0.5
        case 2: return Double(Int64(bitPattern: random.next()) >> random.below(64))
        case 3: return Double(random.below(2_000_000) - 1_000_000) / Double([1, 10, 100, 1000, 1e6, 1e9][random.below(6)])
        default: return Double(random.below(1000)) * pow(10, Double(random.below(60) - 30))
        }
    }

    mutating func float() -> Float {
        switch random.below(3) {
        case 0: return random.pick(Self.floats)
        case 1:
            let value = Float(bitPattern: UInt32(truncatingIfNeeded: random.next()))
            return value.isFinite ? value : 0.25
        default:
            let value = Float(double())
            return value.isFinite ? value : 0.75
        }
    }

    mutating func date() -> Date {
        if random.chance(20) {
            return random.pick([
                Date(timeIntervalSince1970: 0), Date(timeIntervalSince1970: -1), Date(timeIntervalSince1970: 1_795_000_000.123456),
                Date(timeIntervalSince1970: -62_135_596_800), Date(timeIntervalSince1970: 253_402_300_799.999999),
            ])
        }
        let micros = Int64(random.below(8_000_000_000_000_000)) - 2_000_000_000_000_000
        return Date(timeIntervalSince1970: Double(micros) / 1_000_000)
    }

    mutating func integer<T: FixedWidthInteger>(_ type: T.Type) -> T {
        switch random.below(4) {
        case 0: return T.min
        case 1: return T.max
        case 2: return T(truncatingIfNeeded: random.below(200) - 100)
        default: return T(truncatingIfNeeded: random.next())
        }
    }

    mutating func json(depth: Int) -> JSONValue {
        switch random.below(depth > 0 ? 6 : 4) {
        case 0: return .null
        case 1: return .bool(random.chance(50))
        case 2: return .number(random.chance(50) ? double() : Double(random.below(1_000_000)))
        case 3: return .string(string())
        case 4: return .array((0..<random.below(4)).map { _ in json(depth: depth - 1) })
        default:
            var members: [String: JSONValue] = [:]
            for _ in 0..<random.below(5) { members[key()] = json(depth: depth - 1) }
            return .object(members)
        }
    }

    mutating func record(depth: Int) -> SampleRecord {
        var scores: [String: Double] = [:]
        for _ in 0..<random.below(4) { scores[key()] = double() }
        return SampleRecord(
            name: string(), small: integer(Int8.self), medium: random.chance(50) ? integer(Int32.self) : nil,
            big: integer(UInt64.self), ratio: random.chance(50) ? double() : nil, single: float(), flag: random.chance(50),
            when: random.chance(50) ? date() : nil, tags: (0..<random.below(3)).map { _ in string() }, scores: scores,
            children: depth > 0 ? (0..<random.below(2)).map { _ in record(depth: depth - 1) } : [],
            extra: depth > 0 && random.chance(30) ? sample(depth: depth - 1) : nil,
            zName: random.chance(50) ? string() : nil, Name: random.chance(50) ? string() : nil)
    }

    mutating func sample(depth: Int) -> Sample {
        let leaf = depth <= 0
        switch random.below(leaf ? 21 : 34) {
        case 0: return .null
        case 1: return .bool(random.chance(50))
        case 2: return .string(string())
        case 3: return .int(integer(Int.self))
        case 4: return .int8(integer(Int8.self))
        case 5: return .int16(integer(Int16.self))
        case 6: return .int32(integer(Int32.self))
        case 7: return .int64(integer(Int64.self))
        case 8: return .uint(integer(UInt.self))
        case 9: return .uint8(integer(UInt8.self))
        case 10: return .uint16(integer(UInt16.self))
        case 11: return .uint32(integer(UInt32.self))
        case 12: return .uint64(integer(UInt64.self))
        case 13: return .double(double())
        case 14: return .float(float())
        case 15: return .date(date())
        case 16: return .data(Data((0..<random.below(10)).map { _ in UInt8(truncatingIfNeeded: random.next()) }))
        case 17: return .url(URL(string: "https://example.com/a/\(random.below(100))?q=\(random.below(9))#f") ?? URL(fileURLWithPath: "/"))
        case 18:
            let decimal = Decimal(sign: random.chance(50) ? .minus : .plus, exponent: random.below(20) - 10, significand: Decimal(random.below(1_000_000)))
            return .decimal(decimal)
        case 19: return .nothing
        case 20: return .json(json(depth: 2))
        case 21: return .optional(random.chance(50) ? sample(depth: depth - 1) : nil)
        case 22: return .array((0..<random.below(5)).map { _ in sample(depth: depth - 1) })
        case 23: return .nestedArrays((0..<random.below(3)).map { _ in (0..<random.below(3)).map { _ in sample(depth: depth - 1) } })
        case 24:
            var members: [(String, Sample)] = []
            for _ in 0..<random.below(7) {
                let name = key()
                // Distinct names only (as Swift compares them); duplicates are tested on their own.
                if !members.contains(where: { $0.0 == name }) { members.append((name, sample(depth: depth - 1))) }
            }
            return .members(members)
        case 25:
            var members: [String: Sample] = [:]
            for _ in 0..<random.below(20) { members[key()] = sample(depth: depth - 1) }
            return .dictionary(members)
        case 26:
            var members: [Int: Sample] = [:]
            for _ in 0..<random.below(5) { members[random.below(30) - 10] = sample(depth: depth - 1) }
            return .intDictionary(members)
        case 27: return .record(record(depth: min(depth - 1, 2)))
        case 28:
            let shapes: [SampleShape] = [
                .circle(radius: double()), .rect(width: integer(Int.self), height: random.below(10)),
                .label(string(), sample(depth: depth - 1)), .wrapped(sample(depth: depth - 1)), .none,
            ]
            return .shape(random.pick(shapes))
        case 29: return .derived(SampleDerived(base: integer(Int.self), label: string(), child: sample(depth: depth - 1)))
        case 30: return .ints((0..<random.below(6)).map { _ in integer(Int.self) })
        case 31: return .strings((0..<random.below(6)).map { _ in string() })
        case 32: return .doubles((0..<random.below(6)).map { _ in double() })
        default: return .dates((0..<random.below(3)).map { _ in date() })
        }
    }
}
