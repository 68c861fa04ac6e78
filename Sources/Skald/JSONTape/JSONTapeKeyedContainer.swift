/// The members of one object of a ``JSONTape``, looked up by name the way
/// Foundation's dictionary finds them (first of equal names, `String` equality).
struct JSONTapeKeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let tape: JSONTape
    let object: Int

    var codingPath: [any CodingKey] {
        _ = tape.giveUp()
        return []
    }

    /// The names in document order; an object with two equal names gives up (Foundation
    /// would list one, in its dictionary's order, which only matters for the count).
    var allKeys: [Key] {
        var names: [String] = []
        var child = object + 1
        for _ in 0..<tape.nodes[object].count {
            names.append(tape.string(child))
            child = tape.nodes[child + 1].next
        }
        if Set(names).count != names.count { _ = tape.giveUp() }
        return names.compactMap { Key(stringValue: $0) }
    }

    func contains(_ key: Key) -> Bool {
        tape.member(object, key.stringValue) != nil
    }

    /// The decoder of the member `key`; a missing key is an error in Foundation.
    private func value(_ key: Key) throws -> JSONTapeDecoder {
        guard let node = tape.member(object, key.stringValue) else { throw tape.giveUp() }
        return JSONTapeDecoder(tape: tape, node: node)
    }

    func decodeNil(forKey key: Key) throws -> Bool {
        try value(key).isNull
    }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool {
        try value(key).decodeBool()
    }

    func decode(_ type: String.Type, forKey key: Key) throws -> String {
        try value(key).decodeString()
    }

    func decode(_ type: Double.Type, forKey key: Key) throws -> Double {
        try tape.double(value(key).node)
    }

    func decode(_ type: Float.Type, forKey key: Key) throws -> Float {
        try tape.float(value(key).node)
    }

    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try integer(key) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try integer(key) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try integer(key) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try integer(key) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try integer(key) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try integer(key) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try integer(key) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try integer(key) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try integer(key) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try integer(key) }

    /// Foundation reads 128-bit integers its own way; leave them to it.
    func decode(_ type: Int128.Type, forKey key: Key) throws -> Int128 { throw tape.giveUp() }
    func decode(_ type: UInt128.Type, forKey key: Key) throws -> UInt128 { throw tape.giveUp() }

    private func integer<T: FixedWidthInteger>(_ key: Key) throws -> T {
        try tape.integer(value(key).node, as: T.self)
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try value(key).decode(T.self)
    }

    /// Missing or `null` is nil, as in Foundation (and the standard library's default).
    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard let node = tape.member(object, key.stringValue), tape.nodes[node].kind != .null else { return nil }
        return try JSONTapeDecoder(tape: tape, node: node).decode(T.self)
    }

    func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type, forKey key: Key
    ) throws -> KeyedDecodingContainer<NestedKey> {
        try value(key).container(keyedBy: NestedKey.self)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try value(key).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder {
        JSONTapeDecoder(tape: tape, node: tape.member(object, "super") ?? tape.nullNode)
    }

    /// A missing key reads as `null`, as in Foundation.
    func superDecoder(forKey key: Key) throws -> any Decoder {
        JSONTapeDecoder(tape: tape, node: tape.member(object, key.stringValue) ?? tape.nullNode)
    }
}
