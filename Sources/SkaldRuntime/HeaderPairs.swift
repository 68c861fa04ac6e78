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
    static func parse(_ text: String) throws -> [KafkaHeader] {
        if let headers = fastParse(Array(text.utf8)) { return headers }
        let pairs = try JSONDecoder().decode([[String]].self, from: Data(text.utf8))
        return pairs.compactMap { pair in pair.count == 2 ? KafkaHeader(name: pair[0], value: pair[1]) : nil }
    }

    /// Parses the common shape (`[["a", "b"], …]`, escapes limited to the two-character
    /// ones and `\uXXXX` outside the surrogate range); nil for anything else.
    static func fastParse(_ bytes: [UInt8]) -> [KafkaHeader]? {
        var index = 0
        func skipSpace() {
            while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D || bytes[index] == 0x09 {
                index += 1
            }
        }
        func expect(_ byte: UInt8) -> Bool {
            skipSpace()
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
            return true
        }
        func string() -> String? {
            guard expect(UInt8(ascii: "\"")) else { return nil }
            var out: [UInt8] = []
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                switch byte {
                case UInt8(ascii: "\""):
                    return String(decoding: out, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard index < bytes.count else { return nil }
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
                            let code = UInt32(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16),
                            let scalar = Unicode.Scalar(code)
                        else { return nil }  // surrogate pairs: leave them to JSONDecoder
                        index += 4
                        out.append(contentsOf: String(Character(scalar)).utf8)
                    default:
                        return nil
                    }
                default:
                    out.append(byte)
                }
            }
            return nil
        }
        guard expect(UInt8(ascii: "[")) else { return nil }
        var headers: [KafkaHeader] = []
        skipSpace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
        } else {
            while true {
                guard expect(UInt8(ascii: "[")), let name = string(), expect(UInt8(ascii: ",")), let value = string(),
                    expect(UInt8(ascii: "]"))
                else { return nil }
                headers.append(KafkaHeader(name: name, value: value))
                if expect(UInt8(ascii: ",")) { continue }
                guard expect(UInt8(ascii: "]")) else { return nil }
                break
            }
        }
        skipSpace()
        return index == bytes.count ? headers : nil
    }
}
