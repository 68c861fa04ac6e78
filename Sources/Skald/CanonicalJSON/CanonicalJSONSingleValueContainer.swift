/// The single-value container of ``CanonicalJSONEncoder``: writes the value of
/// its encoder's level, which must still be empty (a second value stops the
/// program in Foundation; here it abandons the fast path, and Foundation then
/// does what it does).
struct CanonicalJSONSingleValueContainer: SingleValueEncodingContainer {
    let writer: CanonicalJSONWriter
    let level: Int
    let token: Int

    var codingPath: [any CodingKey] {
        writer.codingPath(level: level, token: token)
    }

    mutating func encodeNil() throws {
        try writer.beginScalar(level: level, token: token)
        writer.writeNull()
    }

    mutating func encode(_ value: Bool) throws {
        try writer.beginScalar(level: level, token: token)
        writer.writeBool(value)
    }

    mutating func encode(_ value: String) throws {
        try writer.beginScalar(level: level, token: token)
        writer.writeString(value)
    }

    mutating func encode(_ value: Double) throws {
        try writer.beginScalar(level: level, token: token)
        try writer.writeDouble(value)
    }

    mutating func encode(_ value: Float) throws {
        try writer.beginScalar(level: level, token: token)
        try writer.writeFloat(value)
    }

    mutating func encode(_ value: Int) throws {
        try writer.beginScalar(level: level, token: token)
        writer.writeInteger(Int64(value))
    }

    mutating func encode(_ value: Int8) throws {
        try writer.beginScalar(level: level, token: token)
        writer.writeInteger(Int64(value))
    }

    mutating func encode(_ value: Int16) throws {
        try writer.beginScalar(level: level, token: token)
        writer.writeInteger(Int64(value))
    }

    mutating func encode(_ value: Int32) throws {
        try writer.beginScalar(level: level, token: token)
        writer.writeInteger(Int64(value))
    }

    mutating func encode(_ value: Int64) throws {
        try writer.beginScalar(level: level, token: token)
        writer.writeInteger(value)
    }

    mutating func encode(_ value: Int128) throws {
        try writer.beginScalar(level: level, token: token)
        writer.writeText(value.description)
    }

    mutating func encode(_ value: UInt) throws {
        try writer.beginScalar(level: level, token: token)
        writer.writeUnsigned(UInt64(value))
    }

    mutating func encode(_ value: UInt8) throws {
        try writer.beginScalar(level: level, token: token)
        writer.writeUnsigned(UInt64(value))
    }

    mutating func encode(_ value: UInt16) throws {
        try writer.beginScalar(level: level, token: token)
        writer.writeUnsigned(UInt64(value))
    }

    mutating func encode(_ value: UInt32) throws {
        try writer.beginScalar(level: level, token: token)
        writer.writeUnsigned(UInt64(value))
    }

    mutating func encode(_ value: UInt64) throws {
        try writer.beginScalar(level: level, token: token)
        writer.writeUnsigned(value)
    }

    mutating func encode(_ value: UInt128) throws {
        try writer.beginScalar(level: level, token: token)
        writer.writeText(value.description)
    }

    mutating func encode<T: Encodable>(_ value: T) throws {
        try writer.encodeSingle(value, level: level, token: token)
    }
}
