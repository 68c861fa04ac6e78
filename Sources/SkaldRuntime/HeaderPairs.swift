import Foundation
import SkaldKafka

/// Reads the outbox's `headers` column, a JSON array of `[name, value]` string pairs.
///
/// The relay reads one per published command, so it gets a small dedicated parser
/// instead of `JSONDecoder` (which cost more than the rest of the relay's work per row);
/// anything it does not expect falls back to `JSONDecoder`, so unusual but valid JSON
/// still parses.
enum HeaderPairs {
    /// The headers in `text`; throws only when the text is not an array of string pairs.
    static func parse(_ text: String) throws -> KafkaHeaders {
        try parse(Array(text.utf8))
    }

    /// The headers in the JSON `bytes`; throws only when they are not an array of string pairs.
    static func parse(_ bytes: [UInt8]) throws -> KafkaHeaders {
        if let headers = fastParse(bytes) { return headers }
        let pairs = try JSONDecoder().decode([[String]].self, from: Data(bytes))
        return KafkaHeaders(pairs.compactMap { pair in pair.count == 2 ? KafkaHeader(name: pair[0], value: pair[1]) : nil })
    }

    /// Parses the common shape (`[["a", "b"], …]`, escapes limited to the two-character
    /// ones and `\uXXXX` outside the surrogate range); nil for anything else.
    ///
    /// Values stay bytes, as Kafka takes them; runs without escapes are copied at once, and
    /// every name and value goes through one scratch buffer into the headers' own.
    static func fastParse(_ bytes: [UInt8]) -> KafkaHeaders? {
        bytes.withUnsafeBufferPointer { buffer in
            var reader = Reader(bytes: buffer)
            return reader.pairs()
        }
    }

    /// A cursor over the column's bytes.
    private struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

        mutating func pairs() -> KafkaHeaders? {
            guard expect(UInt8(ascii: "[")) else { return nil }
            var headers = KafkaHeaders()
            headers.reserveCapacity(headers: 12, bytes: bytes.count)
            var scratch: [UInt8] = []
            scratch.reserveCapacity(128)
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                index += 1
            } else {
                while true {
                    // The name, then the value, unescaped into the scratch buffer one after the other.
                    scratch.removeAll(keepingCapacity: true)
                    guard expect(UInt8(ascii: "[")), string(into: &scratch) else { return nil }
                    let nameCount = scratch.count
                    guard expect(UInt8(ascii: ",")), string(into: &scratch), expect(UInt8(ascii: "]")) else { return nil }
                    scratch.withUnsafeBufferPointer { pair in
                        headers.append(
                            name: UnsafeBufferPointer(rebasing: pair[..<nameCount]), value: UnsafeBufferPointer(rebasing: pair[nameCount...]))
                    }
                    if expect(UInt8(ascii: ",")) { continue }
                    guard expect(UInt8(ascii: "]")) else { return nil }
                    break
                }
            }
            skipSpace()
            return index == bytes.count ? headers : nil
        }

        mutating func skipSpace() {
            while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D || bytes[index] == 0x09 {
                index += 1
            }
        }

        mutating func expect(_ byte: UInt8) -> Bool {
            skipSpace()
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
            return true
        }

        /// Appends a JSON string's UTF-8 bytes, unescaped, to `out`; false when it is not one.
        mutating func string(into out: inout [UInt8]) -> Bool {
            guard expect(UInt8(ascii: "\"")) else { return false }
            var runStart = index
            while index < bytes.count {
                let byte = bytes[index]
                guard byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 else {
                    index += 1
                    continue
                }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<index]))
                index += 1
                switch byte {
                case UInt8(ascii: "\""):
                    return true
                case UInt8(ascii: "\\"):
                    guard unescape(into: &out) else { return false }
                    runStart = index
                default:
                    return false  // a raw control character is not valid JSON
                }
            }
            return false
        }

        /// The escape after a backslash, appended to `out`.
        private mutating func unescape(into out: inout [UInt8]) -> Bool {
            guard index < bytes.count else { return false }
            let escaped = bytes[index]
            index += 1
            switch escaped {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escaped)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "u"):
                guard index + 4 <= bytes.count,
                    let code = UInt32(String(decoding: UnsafeBufferPointer(rebasing: bytes[index..<index + 4]), as: UTF8.self), radix: 16),
                    let scalar = Unicode.Scalar(code)
                else { return false }  // surrogate pairs: leave them to JSONDecoder
                index += 4
                out.append(contentsOf: String(Character(scalar)).utf8)
            default:
                return false
            }
            return true
        }
    }
}
