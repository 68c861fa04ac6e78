/// Checks that bytes are one well-formed JSON text (RFC 8259), without building anything.
///
/// The pump rejects a payload that is not JSON before it routes the message, so such a
/// message reaches the dead letters with a clear reason. Decoding it into a tree only to
/// throw the tree away cost about a tenth of the pump's CPU; this scan allocates nothing.
/// Like the decoders, it refuses bytes that are not UTF-8 and escaped surrogates that do
/// not pair up.
enum JSONSyntax {
    /// Containers nested deeper than this are refused, so a hostile payload cannot exhaust the stack.
    static let maximumDepth = 512

    /// Whether `bytes` hold exactly one JSON value, surrounded by whitespace at most.
    static func isValid(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { buffer in
            var scanner = Scanner(bytes: buffer)
            scanner.skipWhitespace()
            guard scanner.value(depth: 0) else { return false }
            scanner.skipWhitespace()
            return scanner.index == buffer.count
        }
    }

    private struct Scanner {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        init(bytes: UnsafeBufferPointer<UInt8>) {
            self.bytes = bytes
        }

        var current: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func skipWhitespace() {
            while let byte = current, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { index += 1 }
        }

        mutating func consume(_ byte: UInt8) -> Bool {
            guard current == byte else { return false }
            index += 1
            return true
        }

        mutating func value(depth: Int) -> Bool {
            guard let byte = current else { return false }
            switch byte {
            case UInt8(ascii: "{"): return object(depth: depth + 1)
            case UInt8(ascii: "["): return array(depth: depth + 1)
            case UInt8(ascii: "\""): return string()
            case UInt8(ascii: "t"): return literal("true")
            case UInt8(ascii: "f"): return literal("false")
            case UInt8(ascii: "n"): return literal("null")
            default: return number()
            }
        }

        mutating func object(depth: Int) -> Bool {
            guard depth <= JSONSyntax.maximumDepth else { return false }
            index += 1
            skipWhitespace()
            if consume(UInt8(ascii: "}")) { return true }
            while true {
                guard current == UInt8(ascii: "\""), string() else { return false }
                skipWhitespace()
                guard consume(UInt8(ascii: ":")) else { return false }
                skipWhitespace()
                guard value(depth: depth) else { return false }
                skipWhitespace()
                if consume(UInt8(ascii: "}")) { return true }
                guard consume(UInt8(ascii: ",")) else { return false }
                skipWhitespace()
            }
        }

        mutating func array(depth: Int) -> Bool {
            guard depth <= JSONSyntax.maximumDepth else { return false }
            index += 1
            skipWhitespace()
            if consume(UInt8(ascii: "]")) { return true }
            while true {
                guard value(depth: depth) else { return false }
                skipWhitespace()
                if consume(UInt8(ascii: "]")) { return true }
                guard consume(UInt8(ascii: ",")) else { return false }
                skipWhitespace()
            }
        }

        mutating func string() -> Bool {
            index += 1
            while let byte = current {
                index += 1
                switch byte {
                case UInt8(ascii: "\""):
                    return true
                case UInt8(ascii: "\\"):
                    guard let escaped = current else { return false }
                    index += 1
                    switch escaped {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                        UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                        continue
                    case UInt8(ascii: "u"):
                        guard let unit = hexUnit() else { return false }
                        if unit >= 0xDC00 && unit <= 0xDFFF { return false }  // a low surrogate alone
                        if unit >= 0xD800 && unit <= 0xDBFF {
                            // A high surrogate must be followed by an escaped low one.
                            guard consume(UInt8(ascii: "\\")), consume(UInt8(ascii: "u")), let low = hexUnit(),
                                low >= 0xDC00 && low <= 0xDFFF
                            else { return false }
                        }
                    default:
                        return false
                    }
                case 0..<0x20:
                    return false
                case 0x80...:
                    guard utf8Sequence(startingWith: byte) else { return false }
                default:
                    continue
                }
            }
            return false
        }

        /// Four hex digits after `\u`, as a UTF-16 code unit.
        mutating func hexUnit() -> UInt16? {
            var unit: UInt16 = 0
            for _ in 0..<4 {
                guard let hex = current, hex.isHexDigit else { return nil }
                let digit = hex.isDigit ? hex - 48 : (hex | 0x20) - 87
                unit = unit << 4 | UInt16(digit)
                index += 1
            }
            return unit
        }

        /// The rest of a multi-byte UTF-8 sequence whose lead byte (already consumed) is `lead`:
        /// no overlong forms, no surrogates, nothing above U+10FFFF.
        mutating func utf8Sequence(startingWith lead: UInt8) -> Bool {
            let count: Int
            var low: UInt8 = 0x80
            var high: UInt8 = 0xBF
            switch lead {
            case 0xC2...0xDF: count = 1
            case 0xE0: count = 2; low = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: count = 2
            case 0xED: count = 2; high = 0x9F
            case 0xF0: count = 3; low = 0x90
            case 0xF1...0xF3: count = 3
            case 0xF4: count = 3; high = 0x8F
            default: return false
            }
            for position in 0..<count {
                guard let next = current else { return false }
                let (minimum, maximum) = position == 0 ? (low, high) : (UInt8(0x80), UInt8(0xBF))
                guard next >= minimum && next <= maximum else { return false }
                index += 1
            }
            return true
        }

        mutating func number() -> Bool {
            let start = index
            var hasExponent = false
            _ = consume(UInt8(ascii: "-"))
            if consume(UInt8(ascii: "0")) {
                // No leading zeros: "01" is not JSON.
            } else {
                guard let first = current, first >= UInt8(ascii: "1"), first <= UInt8(ascii: "9") else { return false }
                digits()
            }
            if consume(UInt8(ascii: ".")) {
                guard current?.isDigit == true else { return false }
                digits()
            }
            if consume(UInt8(ascii: "e")) || consume(UInt8(ascii: "E")) {
                hasExponent = true
                if !consume(UInt8(ascii: "+")) { _ = consume(UInt8(ascii: "-")) }
                guard current?.isDigit == true else { return false }
                digits()
            }
            // Like the decoders, refuse a number no Double can hold (1e400); only an exponent
            // or hundreds of digits can get there, so only those are converted.
            guard hasExponent || index - start > 300 else { return true }
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
            return Double(text)?.isFinite == true
        }

        mutating func digits() {
            while current?.isDigit == true { index += 1 }
        }

        mutating func literal(_ word: StaticString) -> Bool {
            let length = word.utf8CodeUnitCount
            guard index + length <= bytes.count else { return false }
            let matches = word.withUTF8Buffer { expected in
                (0..<length).allSatisfy { bytes[index + $0] == expected[$0] }
            }
            if matches { index += length }
            return matches
        }
    }
}

extension UInt8 {
    fileprivate var isDigit: Bool { self >= UInt8(ascii: "0") && self <= UInt8(ascii: "9") }
    fileprivate var isHexDigit: Bool {
        isDigit || (self >= UInt8(ascii: "a") && self <= UInt8(ascii: "f")) || (self >= UInt8(ascii: "A") && self <= UInt8(ascii: "F"))
    }
}
