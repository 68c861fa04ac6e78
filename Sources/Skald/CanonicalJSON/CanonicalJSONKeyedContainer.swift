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

    var codingPath: [any CodingKey] {
        writer.codingPath(level: level, token: token)
    }

    mutating func encodeNil(forKey key: Key) throws {
        try writer.beginMember(key, level: level, token: token)
        writer.writeNull()
    }

    mutating func encode(_ value: Bool, forKey key: Key) throws {
        try writer.beginMember(key, level: level, token: token)
        writer.writeBool(value)
    }

    mutating func encode(_ value: String, forKey key: Key) throws {
        try writer.beginMember(key, level: level, token: token)
        writer.writeString(value)
    }

    mutating func encode(_ value: Double, forKey key: Key) throws {
        try writer.beginMember(key, level: level, token: token)
        try writer.writeDouble(value)
    }

    mutating func encode(_ value: Float, forKey key: Key) throws {
        try writer.beginMember(key, level: level, token: token)
        try writer.writeFloat(value)
    }

    mutating func encode(_ value: Int, forKey key: Key) throws {
        try writer.beginMember(key, level: level, token: token)
        writer.writeInteger(Int64(value))
    }

    mutating func encode(_ value: Int8, forKey key: Key) throws {
        try writer.beginMember(key, level: level, token: token)
        writer.writeInteger(Int64(value))
    }

    mutating func encode(_ value: Int16, forKey key: Key) throws {
        try writer.beginMember(key, level: level, token: token)
        writer.writeInteger(Int64(value))
    }

    mutating func encode(_ value: Int32, forKey key: Key) throws {
        try writer.beginMember(key, level: level, token: token)
        writer.writeInteger(Int64(value))
    }

    mutating func encode(_ value: Int64, forKey key: Key) throws {
        try writer.beginMember(key, level: level, token: token)
        writer.writeInteger(value)
    }

    mutating func encode(_ value: Int128, forKey key: Key) throws {
        try writer.beginMember(key, level: level, token: token)
        writer.writeText(value.description)
    }

    mutating func encode(_ value: UInt, forKey key: Key) throws {
        try writer.beginMember(key, level: level, token: token)
        writer.writeUnsigned(UInt64(value))
    }

    mutating func encode(_ value: UInt8, forKey key: Key) throws {
        try writer.beginMember(key, level: level, token: token)
        writer.writeUnsigned(UInt64(value))
    }

    mutating func encode(_ value: UInt16, forKey key: Key) throws {
        try writer.beginMember(key, level: level, token: token)
        writer.writeUnsigned(UInt64(value))
    }

    mutating func encode(_ value: UInt32, forKey key: Key) throws {
        try writer.beginMember(key, level: level, token: token)
        writer.writeUnsigned(UInt64(value))
    }

    mutating func encode(_ value: UInt64, forKey key: Key) throws {
        try writer.beginMember(key, level: level, token: token)
        writer.writeUnsigned(value)
    }

    mutating func encode(_ value: UInt128, forKey key: Key) throws {
        try writer.beginMember(key, level: level, token: token)
        writer.writeText(value.description)
    }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try writer.encodeMember(value, key: key, level: level, token: token)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        let nested = writer.openMember(key, level: level, token: token, content: .object)
        return KeyedEncodingContainer(
            CanonicalJSONKeyedContainer<NestedKey>(writer: writer, level: nested?.level ?? -1, token: nested?.token ?? 0))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let nested = writer.openMember(key, level: level, token: token, content: .array)
        return CanonicalJSONUnkeyedContainer(writer: writer, level: nested?.level ?? -1, token: nested?.token ?? 0)
    }

    /// The encoder of the member `super`, as Foundation names it.
    mutating func superEncoder() -> any Encoder {
        let nested = writer.openMember(CanonicalJSONKey.super, level: level, token: token, content: .empty)
        return CanonicalJSONEncoder(writer: writer, level: nested?.level ?? -1, token: nested?.token ?? 0)
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        let nested = writer.openMember(key, level: level, token: token, content: .empty)
        return CanonicalJSONEncoder(writer: writer, level: nested?.level ?? -1, token: nested?.token ?? 0)
    }
}
