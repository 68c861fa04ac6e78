/// The elements of one array of a ``JSONTape``, read in order.
struct JSONTapeUnkeyedContainer: UnkeyedDecodingContainer {
    let tape: JSONTape
    let array: Int
    /// The node of the next element.
    private var next: Int
    private(set) var currentIndex = 0

    init(tape: JSONTape, array: Int) {
        self.tape = tape
        self.array = array
        self.next = array + 1
    }

    var codingPath: [any CodingKey] {
        _ = tape.giveUp()
        return []
    }

    var count: Int? { tape.nodes[array].count }

    var isAtEnd: Bool { currentIndex >= tape.nodes[array].count }

    /// The decoder of the next element, moving past it; reading past the end is an error.
    private mutating func advance() throws -> JSONTapeDecoder {
        guard !isAtEnd else { throw tape.giveUp() }
        let decoder = JSONTapeDecoder(tape: tape, node: next)
        next = tape.nodes[next].next
        currentIndex += 1
        return decoder
    }

    /// Moves past the next element only when it is `null`.
    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd else { throw tape.giveUp() }
        guard tape.nodes[next].kind == .null else { return false }
        _ = try advance()
        return true
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool { try advance().decodeBool() }
    mutating func decode(_ type: String.Type) throws -> String { try advance().decodeString() }
    mutating func decode(_ type: Double.Type) throws -> Double { try tape.double(advance().node) }
    mutating func decode(_ type: Float.Type) throws -> Float { try tape.float(advance().node) }
    mutating func decode(_ type: Int.Type) throws -> Int { try integer() }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try integer() }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try integer() }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try integer() }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try integer() }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try integer() }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try integer() }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try integer() }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try integer() }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try integer() }

    /// Foundation reads 128-bit integers its own way; leave them to it.
    mutating func decode(_ type: Int128.Type) throws -> Int128 { throw tape.giveUp() }
    mutating func decode(_ type: UInt128.Type) throws -> UInt128 { throw tape.giveUp() }

    private mutating func integer<T: FixedWidthInteger>() throws -> T {
        try tape.integer(advance().node, as: T.self)
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try advance().decode(T.self)
    }

    // Foundation's `decodeIfPresent` moves past a `null` (like the standard library's)
    // but also past the end, which the standard library's does not: reading past the
    // end gives up, and every overload goes through `optional(_:)`.
    mutating func decodeIfPresent(_ type: Bool.Type) throws -> Bool? { try optional(type) }
    mutating func decodeIfPresent(_ type: String.Type) throws -> String? { try optional(type) }
    mutating func decodeIfPresent(_ type: Double.Type) throws -> Double? { try optional(type) }
    mutating func decodeIfPresent(_ type: Float.Type) throws -> Float? { try optional(type) }
    mutating func decodeIfPresent(_ type: Int.Type) throws -> Int? { try optional(type) }
    mutating func decodeIfPresent(_ type: Int8.Type) throws -> Int8? { try optional(type) }
    mutating func decodeIfPresent(_ type: Int16.Type) throws -> Int16? { try optional(type) }
    mutating func decodeIfPresent(_ type: Int32.Type) throws -> Int32? { try optional(type) }
    mutating func decodeIfPresent(_ type: Int64.Type) throws -> Int64? { try optional(type) }
    mutating func decodeIfPresent(_ type: Int128.Type) throws -> Int128? { try optional(type) }
    mutating func decodeIfPresent(_ type: UInt.Type) throws -> UInt? { try optional(type) }
    mutating func decodeIfPresent(_ type: UInt8.Type) throws -> UInt8? { try optional(type) }
    mutating func decodeIfPresent(_ type: UInt16.Type) throws -> UInt16? { try optional(type) }
    mutating func decodeIfPresent(_ type: UInt32.Type) throws -> UInt32? { try optional(type) }
    mutating func decodeIfPresent(_ type: UInt64.Type) throws -> UInt64? { try optional(type) }
    mutating func decodeIfPresent(_ type: UInt128.Type) throws -> UInt128? { try optional(type) }
    mutating func decodeIfPresent<T: Decodable>(_ type: T.Type) throws -> T? { try optional(type) }

    private mutating func optional<T: Decodable>(_ type: T.Type) throws -> T? {
        if try decodeNil() { return nil }
        return try advance().decode(T.self)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        try advance().container(keyedBy: NestedKey.self)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try advance().unkeyedContainer()
    }

    mutating func superDecoder() throws -> any Decoder {
        try advance()
    }
}
