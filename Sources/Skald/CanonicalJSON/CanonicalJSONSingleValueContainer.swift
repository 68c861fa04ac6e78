/// The single-value container of ``CanonicalJSONEncoder``: writes the value of
/// its encoder's level, which must still be empty (a second value stops the
/// program in Foundation; here it abandons the fast path, and Foundation then
/// does what it does).
struct CanonicalJSONSingleValueContainer: SingleValueEncodingContainer {
    let writer: CanonicalJSONWriter
    let level: Int
    let token: Int

    var codingPath: [any CodingKey] {
        writer.buffer.codingPath(level: level, token: token)
    }

    mutating func encodeNil() throws {
        try writer.buffer.scalar(level: level, token: token) { $0.writeNull() }
    }

    mutating func encode(_ value: Bool) throws {
        try writer.buffer.scalar(level: level, token: token) { $0.writeBool(value) }
    }

    mutating func encode(_ value: String) throws {
        try writer.buffer.scalar(level: level, token: token) { $0.writeString(value) }
    }

    mutating func encode(_ value: Double) throws {
        try writer.buffer.scalar(level: level, token: token) { try $0.writeDouble(value) }
    }

    mutating func encode(_ value: Float) throws {
        try writer.buffer.scalar(level: level, token: token) { try $0.writeFloat(value) }
    }

    mutating func encode(_ value: Int) throws {
        try writer.buffer.scalar(level: level, token: token) { $0.writeInteger(Int64(value)) }
    }

    mutating func encode(_ value: Int8) throws {
        try writer.buffer.scalar(level: level, token: token) { $0.writeInteger(Int64(value)) }
    }

    mutating func encode(_ value: Int16) throws {
        try writer.buffer.scalar(level: level, token: token) { $0.writeInteger(Int64(value)) }
    }

    mutating func encode(_ value: Int32) throws {
        try writer.buffer.scalar(level: level, token: token) { $0.writeInteger(Int64(value)) }
    }

    mutating func encode(_ value: Int64) throws {
        try writer.buffer.scalar(level: level, token: token) { $0.writeInteger(value) }
    }

    mutating func encode(_ value: Int128) throws {
        try writer.buffer.scalar(level: level, token: token) { $0.writeText(value.description) }
    }

    mutating func encode(_ value: UInt) throws {
        try writer.buffer.scalar(level: level, token: token) { $0.writeUnsigned(UInt64(value)) }
    }

    mutating func encode(_ value: UInt8) throws {
        try writer.buffer.scalar(level: level, token: token) { $0.writeUnsigned(UInt64(value)) }
    }

    mutating func encode(_ value: UInt16) throws {
        try writer.buffer.scalar(level: level, token: token) { $0.writeUnsigned(UInt64(value)) }
    }

    mutating func encode(_ value: UInt32) throws {
        try writer.buffer.scalar(level: level, token: token) { $0.writeUnsigned(UInt64(value)) }
    }

    mutating func encode(_ value: UInt64) throws {
        try writer.buffer.scalar(level: level, token: token) { $0.writeUnsigned(value) }
    }

    mutating func encode(_ value: UInt128) throws {
        try writer.buffer.scalar(level: level, token: token) { $0.writeText(value.description) }
    }

    mutating func encode<T: Encodable>(_ value: T) throws {
        try writer.encodeSingle(value, level: level, token: token)
    }
}
