/// The single value of one node of a ``JSONTape``.
struct JSONTapeSingleValueContainer: SingleValueDecodingContainer {
    let tape: JSONTape
    let node: Int

    var codingPath: [any CodingKey] {
        _ = tape.giveUp()
        return []
    }

    private var decoder: JSONTapeDecoder { JSONTapeDecoder(tape: tape, node: node) }

    func decodeNil() -> Bool { decoder.isNull }

    func decode(_ type: Bool.Type) throws -> Bool { try decoder.decodeBool() }
    func decode(_ type: String.Type) throws -> String { try decoder.decodeString() }
    func decode(_ type: Double.Type) throws -> Double { try tape.double(node) }
    func decode(_ type: Float.Type) throws -> Float { try tape.float(node) }
    func decode(_ type: Int.Type) throws -> Int { try tape.integer(node, as: Int.self) }
    func decode(_ type: Int8.Type) throws -> Int8 { try tape.integer(node, as: Int8.self) }
    func decode(_ type: Int16.Type) throws -> Int16 { try tape.integer(node, as: Int16.self) }
    func decode(_ type: Int32.Type) throws -> Int32 { try tape.integer(node, as: Int32.self) }
    func decode(_ type: Int64.Type) throws -> Int64 { try tape.integer(node, as: Int64.self) }
    func decode(_ type: UInt.Type) throws -> UInt { try tape.integer(node, as: UInt.self) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try tape.integer(node, as: UInt8.self) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try tape.integer(node, as: UInt16.self) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try tape.integer(node, as: UInt32.self) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try tape.integer(node, as: UInt64.self) }

    /// Foundation reads 128-bit integers its own way; leave them to it.
    func decode(_ type: Int128.Type) throws -> Int128 { throw tape.giveUp() }
    func decode(_ type: UInt128.Type) throws -> UInt128 { throw tape.giveUp() }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try decoder.decode(T.self)
    }
}
