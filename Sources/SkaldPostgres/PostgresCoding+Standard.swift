public import Foundation
import CLibPQ

// MARK: - Integers

/// Parses an optionally signed decimal integer from ASCII text without allocating.
@inline(__always)
func parseInteger<T: FixedWidthInteger>(_ bytes: UnsafeRawBufferPointer, as: T.Type) -> T? {
    var index = 0
    let count = bytes.count
    guard count > 0 else { return nil }
    var negative = false
    if bytes[0] == UInt8(ascii: "-") {
        negative = true
        index = 1
    } else if bytes[0] == UInt8(ascii: "+") {
        index = 1
    }
    guard index < count else { return nil }
    var value: T = 0
    while index < count {
        let digit = bytes[index] &- UInt8(ascii: "0")
        guard digit < 10 else { return nil }
        let (multiplied, overflow1) = value.multipliedReportingOverflow(by: 10)
        let (next, overflow2) = negative
            ? multiplied.subtractingReportingOverflow(T(digit))
            : multiplied.addingReportingOverflow(T(digit))
        guard !overflow1, !overflow2 else { return nil }
        value = next
        index += 1
    }
    return value
}

@inline(__always)
func decodeInteger<T: FixedWidthInteger>(_ cell: PostgresCell, as type: T.Type) throws -> T {
    let bytes = try cell.requireBytes(for: T.self)
    switch cell.dataType {
    case .int2, .int4, .int8, .oidType, .unknown:
        guard let value = parseInteger(bytes, as: T.self) else {
            throw cell.decodingError(T.self, reason: "out of range")
        }
        return value
    default:
        throw cell.decodingError(T.self, reason: "expected int2, int4 or int8")
    }
}

extension Int: PostgresCodable {
    /// `int8`, the width of Swift's `Int` on 64-bit platforms.
    public static var postgresDataType: PostgresDataType { .int8 }
    /// Writes the decimal digits.
    public func encode(into writer: inout PostgresTextWriter) { writer.write(String(self)) }
    /// Decodes `int2`, `int4` or `int8`.
    public static func decode(from cell: PostgresCell) throws -> Int { try decodeInteger(cell, as: Int.self) }
}

extension Int64: PostgresCodable {
    /// `int8`
    public static var postgresDataType: PostgresDataType { .int8 }
    /// Writes the decimal digits.
    public func encode(into writer: inout PostgresTextWriter) { writer.write(String(self)) }
    /// Decodes `int2`, `int4` or `int8`.
    public static func decode(from cell: PostgresCell) throws -> Int64 { try decodeInteger(cell, as: Int64.self) }
}

extension Int32: PostgresCodable {
    /// `int4`
    public static var postgresDataType: PostgresDataType { .int4 }
    /// Writes the decimal digits.
    public func encode(into writer: inout PostgresTextWriter) { writer.write(String(self)) }
    /// Decodes `int2`, `int4`, or an `int8` that fits.
    public static func decode(from cell: PostgresCell) throws -> Int32 { try decodeInteger(cell, as: Int32.self) }
}

extension Int16: PostgresCodable {
    /// `int2`
    public static var postgresDataType: PostgresDataType { .int2 }
    /// Writes the decimal digits.
    public func encode(into writer: inout PostgresTextWriter) { writer.write(String(self)) }
    /// Decodes an integer column whose value fits.
    public static func decode(from cell: PostgresCell) throws -> Int16 { try decodeInteger(cell, as: Int16.self) }
}

// MARK: - String, Bool, floating point

extension String: PostgresCodable {
    /// Unspecified, so a string binds to `text`, `varchar`, enums and domains alike.
    public static var postgresDataType: PostgresDataType { .unspecified }
    /// Writes the UTF-8 bytes; a NUL character cannot be sent and fails the statement.
    public func encode(into writer: inout PostgresTextWriter) {
        if containsNUL {
            writer.fail("a string containing a NUL character cannot be stored in Postgres")
        }
        writer.write(self)
    }
    /// Decodes text-like columns (`text`, `varchar`, `char(n)`, `name`, enums).
    public static func decode(from cell: PostgresCell) throws -> String {
        let bytes = try cell.requireBytes(for: String.self)
        guard cell.dataType.isTextLike else {
            throw cell.decodingError(String.self, reason: "expected a text-like column; cast it with ::text")
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension Bool: PostgresCodable {
    /// `bool`
    public static var postgresDataType: PostgresDataType { .bool }
    /// Writes `t` or `f`.
    public func encode(into writer: inout PostgresTextWriter) { writer.write(byte: self ? UInt8(ascii: "t") : UInt8(ascii: "f")) }
    /// Decodes `bool`.
    public static func decode(from cell: PostgresCell) throws -> Bool {
        let bytes = try cell.requireBytes(for: Bool.self)
        guard cell.dataType == .bool, bytes.count == 1 else {
            throw cell.decodingError(Bool.self, reason: "expected bool")
        }
        switch bytes[0] {
        case UInt8(ascii: "t"): return true
        case UInt8(ascii: "f"): return false
        default: throw cell.decodingError(Bool.self)
        }
    }
}

/// Parses `float4`, `float8`, `numeric` and integer text (including `NaN` and `±Infinity`).
func decodeFloatingPoint(_ cell: PostgresCell, as type: Any.Type) throws -> Double {
    let bytes = try cell.requireBytes(for: type)
    switch cell.dataType {
    case .float4, .float8, .numeric, .int2, .int4, .int8:
        guard let value = Double(String(decoding: bytes, as: UTF8.self)) else {
            throw cell.decodingError(type)
        }
        return value
    default:
        throw cell.decodingError(type, reason: "expected float4, float8, numeric or an integer")
    }
}

func encodeFloatingPoint(_ value: Double, into writer: inout PostgresTextWriter) {
    if value.isNaN {
        writer.write("NaN")
    } else if value.isInfinite {
        writer.write(value < 0 ? "-Infinity" : "Infinity")
    } else {
        writer.write(value.description)
    }
}

extension Double: PostgresCodable {
    /// `float8`
    public static var postgresDataType: PostgresDataType { .float8 }
    /// Writes the shortest text that reads back as the same Double.
    public func encode(into writer: inout PostgresTextWriter) { encodeFloatingPoint(self, into: &writer) }
    /// Decodes `float4`, `float8`, `numeric` or an integer.
    public static func decode(from cell: PostgresCell) throws -> Double { try decodeFloatingPoint(cell, as: Double.self) }
}

extension Float: PostgresCodable {
    /// `float4`
    public static var postgresDataType: PostgresDataType { .float4 }
    /// Writes the shortest text that reads back as the same Float.
    public func encode(into writer: inout PostgresTextWriter) {
        if isFinite { writer.write(description) } else { encodeFloatingPoint(Double(self), into: &writer) }
    }
    /// Decodes `float4`, `float8`, `numeric` or an integer.
    public static func decode(from cell: PostgresCell) throws -> Float { Float(try decodeFloatingPoint(cell, as: Float.self)) }
}

// MARK: - UUID

extension UUID: PostgresCodable {
    /// `uuid`
    public static var postgresDataType: PostgresDataType { .uuid }
    /// Writes the canonical hyphenated form.
    public func encode(into writer: inout PostgresTextWriter) { writer.write(uuidString) }
    /// Decodes `uuid`, or text holding one.
    public static func decode(from cell: PostgresCell) throws -> UUID {
        let bytes = try cell.requireBytes(for: UUID.self)
        guard cell.dataType == .uuid || cell.dataType.isTextLike else {
            throw cell.decodingError(UUID.self, reason: "expected uuid")
        }
        guard let uuid = UUID(uuidString: String(decoding: bytes, as: UTF8.self)) else {
            throw cell.decodingError(UUID.self)
        }
        return uuid
    }
}

// MARK: - Bytes

private let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

@inline(__always)
private func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
    default: return nil
    }
}

/// Writes bytea in hex format (`\x0a1b…`).
func encodeBytea(_ bytes: some Collection<UInt8>, into writer: inout PostgresTextWriter) {
    writer.bytes.reserveCapacity(writer.bytes.count + 2 + bytes.count * 2)
    writer.write(byte: UInt8(ascii: "\\"))
    writer.write(byte: UInt8(ascii: "x"))
    for byte in bytes {
        writer.bytes.append(hexDigits[Int(byte >> 4)])
        writer.bytes.append(hexDigits[Int(byte & 0x0f)])
    }
}

/// Reads bytea text output in hex format, or in the legacy escape format via libpq.
func decodeBytea(_ cell: PostgresCell, as type: Any.Type) throws -> [UInt8] {
    let bytes = try cell.requireBytes(for: type)
    guard cell.dataType == .bytea else {
        throw cell.decodingError(type, reason: "expected bytea")
    }
    if bytes.count >= 2, bytes[0] == UInt8(ascii: "\\"), bytes[1] == UInt8(ascii: "x") {
        guard bytes.count % 2 == 0 else { throw cell.decodingError(type) }
        var result = [UInt8]()
        result.reserveCapacity((bytes.count - 2) / 2)
        var index = 2
        while index < bytes.count {
            guard let high = hexValue(bytes[index]), let low = hexValue(bytes[index + 1]) else {
                throw cell.decodingError(type)
            }
            result.append(high << 4 | low)
            index += 2
        }
        return result
    }
    // bytea_output = 'escape': the value is NUL-terminated in the result, so libpq can unescape it.
    var length = 0
    guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self),
          let unescaped = PQunescapeBytea(base, &length) else {
        throw cell.decodingError(type)
    }
    defer { PQfreemem(unescaped) }
    return Array(UnsafeBufferPointer(start: unescaped, count: length))
}

extension Data: PostgresCodable {
    /// `bytea`
    public static var postgresDataType: PostgresDataType { .bytea }
    /// Writes hex format.
    public func encode(into writer: inout PostgresTextWriter) { encodeBytea(self, into: &writer) }
    /// Decodes `bytea`.
    public static func decode(from cell: PostgresCell) throws -> Data { Data(try decodeBytea(cell, as: Data.self)) }
}

extension Array: PostgresEncodable where Element == UInt8 {
    /// `bytea`
    public static var postgresDataType: PostgresDataType { .bytea }
    /// Writes hex format.
    public func encode(into writer: inout PostgresTextWriter) { encodeBytea(self, into: &writer) }
}

extension Array: PostgresDecodable where Element == UInt8 {
    /// Decodes `bytea`.
    public static func decode(from cell: PostgresCell) throws -> [UInt8] { try decodeBytea(cell, as: [UInt8].self) }
}
