import Foundation

/// Scalars, formatted as swift-foundation's `JSONEncoder` and `JSONWriter` format them.
extension CanonicalJSONBuffer {
    /// Writes `value` directly when its type is one Foundation's `JSONEncoder` writes as a
    /// scalar (checked by type identity, no dynamic cast); false for any other type.
    ///
    /// Foundation treats `Date`, `Data`, `URL` and `Decimal` specially wherever a value
    /// passes through `encode(_:)` of a container (not when a type calls `encode(to:)`
    /// on them itself); so does this, with the strategies `JSONCoding` uses: dates as
    /// ``Timestamp/format(_:)``, data as Base64, URLs as their absolute string, decimals
    /// as their description. The other types here would reach the same bytes through
    /// their own `encode(to:)`; handling them here just skips a level.
    @inline(__always)
    mutating func writeScalar<T: Encodable>(_ value: T) throws -> Bool {
        if T.self == String.self {
            writeString(unsafeBitCast(value, to: String.self))
        } else if T.self == Int.self {
            writeInteger(Int64(unsafeBitCast(value, to: Int.self)))
        } else if T.self == Bool.self {
            writeBool(unsafeBitCast(value, to: Bool.self))
        } else if T.self == Double.self {
            try writeDouble(unsafeBitCast(value, to: Double.self))
        } else if T.self == Date.self {
            writeTimestamp(unsafeBitCast(value, to: Date.self))
        } else {
            return try writeOtherScalar(value)
        }
        return true
    }

    /// A date as ``Timestamp/format(_:)`` writes it, quoted: its characters never need
    /// escaping, so it goes straight into the buffer without a string in between.
    mutating func writeTimestamp(_ date: Date) {
        bytes.append(UInt8(ascii: "\""))
        Timestamp.append(date, to: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    /// The rarer scalar types of ``writeScalar(_:)``.
    private mutating func writeOtherScalar<T: Encodable>(_ value: T) throws -> Bool {
        if T.self == Int64.self {
            writeInteger(unsafeBitCast(value, to: Int64.self))
        } else if T.self == Int32.self {
            writeInteger(Int64(unsafeBitCast(value, to: Int32.self)))
        } else if T.self == Int16.self {
            writeInteger(Int64(unsafeBitCast(value, to: Int16.self)))
        } else if T.self == Int8.self {
            writeInteger(Int64(unsafeBitCast(value, to: Int8.self)))
        } else if T.self == UInt.self {
            writeUnsigned(UInt64(unsafeBitCast(value, to: UInt.self)))
        } else if T.self == UInt64.self {
            writeUnsigned(unsafeBitCast(value, to: UInt64.self))
        } else if T.self == UInt32.self {
            writeUnsigned(UInt64(unsafeBitCast(value, to: UInt32.self)))
        } else if T.self == UInt16.self {
            writeUnsigned(UInt64(unsafeBitCast(value, to: UInt16.self)))
        } else if T.self == UInt8.self {
            writeUnsigned(UInt64(unsafeBitCast(value, to: UInt8.self)))
        } else if T.self == Float.self {
            try writeFloat(unsafeBitCast(value, to: Float.self))
        } else if T.self == Data.self {
            writeString(unsafeBitCast(value, to: Data.self).base64EncodedString())
        } else if T.self == URL.self {
            writeString(unsafeBitCast(value, to: URL.self).absoluteString)
        } else if T.self == Decimal.self {
            // Foundation writes the description unquoted, whatever it is.
            writeText(unsafeBitCast(value, to: Decimal.self).description)
        } else {
            return false
        }
        return true
    }

    /// Fixed ASCII text, copied from the binary's constant data.
    mutating func writeASCII(_ text: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    mutating func writeNull() {
        writeASCII("null")
    }

    mutating func writeBool(_ value: Bool) {
        writeASCII(value ? "true" : "false")
    }

    mutating func writeEmptyObject() {
        writeASCII("{}")
    }

    /// A signed integer in decimal, as `description` writes it.
    mutating func writeInteger(_ value: Int64) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        writeUnsigned(value.magnitude)
    }

    /// An unsigned integer in decimal, formatted on the stack (20 digits at most).
    mutating func writeUnsigned(_ value: UInt64) {
        if value < 10 {
            bytes.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: value))
            return
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var rest = value
            var first = 20
            while rest > 0 {
                first -= 1
                digits[first] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: rest % 10)
                rest /= 10
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: digits[first..<20]))
        }
    }

    /// Text written as it is: the description of a 128-bit integer or a `Decimal`,
    /// which is what Foundation writes for them.
    mutating func writeText(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }

    /// Foundation writes `description` without a trailing `.0` (`1.0` → `1`, `-0.0` → `-0`,
    /// `1e-07` and `1.2345678901234568e+20` as they are); a non-finite value is an error.
    mutating func writeDouble(_ value: Double) throws {
        guard value.isFinite else { throw giveUp() }
        writeFloatingPoint(value.description)
    }

    /// As ``writeDouble(_:)``, with `Float`'s own shortest description.
    mutating func writeFloat(_ value: Float) throws {
        guard value.isFinite else { throw giveUp() }
        writeFloatingPoint(value.description)
    }

    private mutating func writeFloatingPoint(_ description: String) {
        var text = description
        text.withUTF8 { utf8 in
            var count = utf8.count
            if count > 2, utf8[count - 2] == UInt8(ascii: "."), utf8[count - 1] == UInt8(ascii: "0") { count -= 2 }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[0..<count]))
        }
    }

    /// A string in quotes, escaped as Foundation escapes with `.withoutEscapingSlashes`.
    mutating func writeString(_ string: String) {
        // A native string's bytes are read where they are; `withUTF8` would need a `var` copy,
        // retained and released around every string written.
        if string.utf8.withContiguousStorageIfAvailable({ writeEscaped($0) }) != nil { return }
        var string = string
        string.withUTF8 { _ = writeEscaped($0) }
    }

    /// Writes UTF-8 text in quotes: `"` and `\` are escaped with a backslash, the control
    /// characters U+0000–U+001F as `\b \f \n \r \t` or `\u00xx` (lowercase hex);
    /// everything else, `/`, U+007F, U+2028 and all non-ASCII included, is copied as it
    /// is. Returns whether a byte was non-ASCII (member names need to know).
    mutating func writeEscaped(_ utf8: UnsafeBufferPointer<UInt8>) -> Bool {
        bytes.append(UInt8(ascii: "\""))
        var mark = 0
        var union: UInt8 = 0
        for index in 0..<utf8.count {
            let byte = utf8[index]
            union |= byte
            guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
            if index > mark { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[mark..<index])) }
            writeEscape(byte)
            mark = index + 1
        }
        if utf8.count > mark { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[mark...])) }
        bytes.append(UInt8(ascii: "\""))
        return union >= 0x80
    }

    private mutating func writeEscape(_ byte: UInt8) {
        let letter: UInt8
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"): letter = byte
        case 0x08: letter = UInt8(ascii: "b")
        case 0x0C: letter = UInt8(ascii: "f")
        case 0x0A: letter = UInt8(ascii: "n")
        case 0x0D: letter = UInt8(ascii: "r")
        case 0x09: letter = UInt8(ascii: "t")
        default:
            // Below 0x20 the high digit is 0 or 1; the low one may be a letter (lowercase, as Foundation writes it).
            let low = byte & 0xF
            writeASCII("\\u00")
            bytes.append(UInt8(ascii: "0") &+ (byte >> 4))
            bytes.append(low < 10 ? UInt8(ascii: "0") &+ low : UInt8(ascii: "a") &+ (low &- 10))
            return
        }
        bytes.append(UInt8(ascii: "\\"))
        bytes.append(letter)
    }
}
