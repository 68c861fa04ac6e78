/// The keyed container of ``CanonicalJSONEncoder``: the members of one JSON object.
///
/// It names its object by level and token; every call first makes that object
/// the innermost open level (closing nested containers begun earlier), and once
/// the object is closed the container is stale and abandons the fast path. A
/// container handed out after the fast path was abandoned has level -1.
struct CanonicalJSONKeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let writer: CanonicalJSONWriter
    let level: Int
    let token: Int

    /// Begins the member `key` and writes its value, in one access to the buffer.
    @inline(__always)
    private func member(_ key: Key, _ write: (inout CanonicalJSONBuffer) throws -> Void) throws {
        try writer.buffer.member(key.stringValue, level: level, token: token, write)
    }

    var codingPath: [any CodingKey] {
        writer.buffer.codingPath(level: level, token: token)
    }

    mutating func encodeNil(forKey key: Key) throws {
        try member(key) { $0.writeNull() }
    }

    mutating func encode(_ value: Bool, forKey key: Key) throws {
        try member(key) { $0.writeBool(value) }
    }

    mutating func encode(_ value: String, forKey key: Key) throws {
        try member(key) { $0.writeString(value) }
    }

    mutating func encode(_ value: Double, forKey key: Key) throws {
        try member(key) { try $0.writeDouble(value) }
    }

    mutating func encode(_ value: Float, forKey key: Key) throws {
        try member(key) { try $0.writeFloat(value) }
    }

    mutating func encode(_ value: Int, forKey key: Key) throws {
        try member(key) { $0.writeInteger(Int64(value)) }
    }

    mutating func encode(_ value: Int8, forKey key: Key) throws {
        try member(key) { $0.writeInteger(Int64(value)) }
    }

    mutating func encode(_ value: Int16, forKey key: Key) throws {
        try member(key) { $0.writeInteger(Int64(value)) }
    }

    mutating func encode(_ value: Int32, forKey key: Key) throws {
        try member(key) { $0.writeInteger(Int64(value)) }
    }

    mutating func encode(_ value: Int64, forKey key: Key) throws {
        try member(key) { $0.writeInteger(value) }
    }

    mutating func encode(_ value: Int128, forKey key: Key) throws {
        try member(key) { $0.writeText(value.description) }
    }

    mutating func encode(_ value: UInt, forKey key: Key) throws {
        try member(key) { $0.writeUnsigned(UInt64(value)) }
    }

    mutating func encode(_ value: UInt8, forKey key: Key) throws {
        try member(key) { $0.writeUnsigned(UInt64(value)) }
    }

    mutating func encode(_ value: UInt16, forKey key: Key) throws {
        try member(key) { $0.writeUnsigned(UInt64(value)) }
    }

    mutating func encode(_ value: UInt32, forKey key: Key) throws {
        try member(key) { $0.writeUnsigned(UInt64(value)) }
    }

    mutating func encode(_ value: UInt64, forKey key: Key) throws {
        try member(key) { $0.writeUnsigned(value) }
    }

    mutating func encode(_ value: UInt128, forKey key: Key) throws {
        try member(key) { $0.writeText(value.description) }
    }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try writer.encodeMember(value, key: key, level: level, token: token)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        let nested = writer.buffer.openMember(key, level: level, token: token, content: .object)
        return KeyedEncodingContainer(
            CanonicalJSONKeyedContainer<NestedKey>(writer: writer, level: nested?.level ?? -1, token: nested?.token ?? 0))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let nested = writer.buffer.openMember(key, level: level, token: token, content: .array)
        return CanonicalJSONUnkeyedContainer(writer: writer, level: nested?.level ?? -1, token: nested?.token ?? 0)
    }

    /// The encoder of the member `super`, as Foundation names it.
    mutating func superEncoder() -> any Encoder {
        let nested = writer.buffer.openMember(CanonicalJSONKey.super, level: level, token: token, content: .empty)
        return CanonicalJSONEncoder(writer: writer, level: nested?.level ?? -1, token: nested?.token ?? 0)
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        let nested = writer.buffer.openMember(key, level: level, token: token, content: .empty)
        return CanonicalJSONEncoder(writer: writer, level: nested?.level ?? -1, token: nested?.token ?? 0)
    }
}
