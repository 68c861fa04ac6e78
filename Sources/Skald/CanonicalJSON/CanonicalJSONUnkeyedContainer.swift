/// The unkeyed container of ``CanonicalJSONEncoder``: the elements of one JSON
/// array, written in order. Like the keyed container it names its array by
/// level and token (level -1 once the fast path was abandoned).
struct CanonicalJSONUnkeyedContainer: UnkeyedEncodingContainer {
    let writer: CanonicalJSONWriter
    let level: Int
    let token: Int

    var codingPath: [any CodingKey] {
        writer.buffer.codingPath(level: level, token: token)
    }

    var count: Int {
        writer.buffer.count(level: level, token: token)
    }

    mutating func encodeNil() throws {
        try writer.buffer.element(level: level, token: token) { $0.writeNull() }
    }

    mutating func encode(_ value: Bool) throws {
        try writer.buffer.element(level: level, token: token) { $0.writeBool(value) }
    }

    mutating func encode(_ value: String) throws {
        try writer.buffer.element(level: level, token: token) { $0.writeString(value) }
    }

    mutating func encode(_ value: Double) throws {
        try writer.buffer.element(level: level, token: token) { try $0.writeDouble(value) }
    }

    mutating func encode(_ value: Float) throws {
        try writer.buffer.element(level: level, token: token) { try $0.writeFloat(value) }
    }

    mutating func encode(_ value: Int) throws {
        try writer.buffer.element(level: level, token: token) { $0.writeInteger(Int64(value)) }
    }

    mutating func encode(_ value: Int8) throws {
        try writer.buffer.element(level: level, token: token) { $0.writeInteger(Int64(value)) }
    }

    mutating func encode(_ value: Int16) throws {
        try writer.buffer.element(level: level, token: token) { $0.writeInteger(Int64(value)) }
    }

    mutating func encode(_ value: Int32) throws {
        try writer.buffer.element(level: level, token: token) { $0.writeInteger(Int64(value)) }
    }

    mutating func encode(_ value: Int64) throws {
        try writer.buffer.element(level: level, token: token) { $0.writeInteger(value) }
    }

    mutating func encode(_ value: Int128) throws {
        try writer.buffer.element(level: level, token: token) { $0.writeText(value.description) }
    }

    mutating func encode(_ value: UInt) throws {
        try writer.buffer.element(level: level, token: token) { $0.writeUnsigned(UInt64(value)) }
    }

    mutating func encode(_ value: UInt8) throws {
        try writer.buffer.element(level: level, token: token) { $0.writeUnsigned(UInt64(value)) }
    }

    mutating func encode(_ value: UInt16) throws {
        try writer.buffer.element(level: level, token: token) { $0.writeUnsigned(UInt64(value)) }
    }

    mutating func encode(_ value: UInt32) throws {
        try writer.buffer.element(level: level, token: token) { $0.writeUnsigned(UInt64(value)) }
    }

    mutating func encode(_ value: UInt64) throws {
        try writer.buffer.element(level: level, token: token) { $0.writeUnsigned(value) }
    }

    mutating func encode(_ value: UInt128) throws {
        try writer.buffer.element(level: level, token: token) { $0.writeText(value.description) }
    }

    mutating func encode<T: Encodable>(_ value: T) throws {
        try writer.encodeElement(value, level: level, token: token)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let nested = writer.buffer.openElement(level: level, token: token, content: .object)
        return KeyedEncodingContainer(
            CanonicalJSONKeyedContainer<NestedKey>(writer: writer, level: nested?.level ?? -1, token: nested?.token ?? 0))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let nested = writer.buffer.openElement(level: level, token: token, content: .array)
        return CanonicalJSONUnkeyedContainer(writer: writer, level: nested?.level ?? -1, token: nested?.token ?? 0)
    }

    /// The encoder of the next element. Foundation inserts its value at the index the
    /// array had when it was made; here it is the next element at once, the same place
    /// unless elements are appended before it is used (then the level is stale and
    /// Foundation takes over).
    mutating func superEncoder() -> any Encoder {
        let nested = writer.buffer.openElement(level: level, token: token, content: .empty)
        return CanonicalJSONEncoder(writer: writer, level: nested?.level ?? -1, token: nested?.token ?? 0)
    }
}
