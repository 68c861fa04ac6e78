import Foundation

/// The JSON Skald writes and reads, for services and tools that talk to it.
///
/// Encoding gives the canonical bytes Skald stores and sends — sorted keys, unescaped
/// slashes, dates as RFC 3339 text at microseconds (``Timestamp``) — the same bytes
/// `JSONEncoder` with those settings writes, two to three times faster. Decoding gives what
/// `JSONDecoder` with the same date format gives, on a faster path for plain types; any
/// input that path cannot vouch for, errors included, is decoded by `JSONDecoder`, so bad
/// input gets Foundation's error.
public enum SkaldJSON {
    /// The canonical JSON of `value`.
    /// - Throws: `EncodingError` for a value JSON cannot hold (a non-finite number, for one).
    public static func encode(_ value: some Encodable) throws -> [UInt8] {
        try JSONCoding.encode(value)
    }

    /// A `T` read from the JSON in `bytes`.
    /// - Throws: `DecodingError` when `bytes` are not JSON or do not fit `T`.
    public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        if let value = JSONTape.decode(bytes, { try $0.decode(T.self) }) { return value }
        return try JSONCoding.decoder().decode(T.self, from: Data(bytes))
    }
}
