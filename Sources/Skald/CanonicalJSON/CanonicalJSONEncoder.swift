import Foundation

/// Writes the canonical JSON Skald stores and sends: the very bytes
/// `JSONCoding.foundationEncoder()` (Foundation's `JSONEncoder` with sorted keys,
/// unescaped slashes and ``Timestamp`` dates) writes, at a fraction of the cost.
///
/// Foundation builds a tree of boxed values, dictionaries and strings for every
/// document and serializes it afterwards. This encoder writes straight into one
/// byte buffer (``CanonicalJSONBuffer``, held by the document's
/// ``CanonicalJSONWriter``): scalars are formatted in place, and an object is
/// written in the order its keys arrive and only reordered, segment by segment,
/// when it is complete. Keys are sorted by their UTF-8 bytes, as
/// swift-foundation's `JSONWriter` sorts them.
///
/// Whatever the fast path cannot reproduce with certainty it leaves to
/// Foundation: the encoding is abandoned and run again by `JSONEncoder`
/// (see ``encode(_:)``). That covers errors (non-finite numbers, a type that
/// throws), the same key written twice, a container used after a sibling was
/// started, and values nested deeper than Foundation allows.
///
/// It is also the `Encoder` handed to `encode(to:)`: one *level* of the writer
/// (the value of a key, an array element or the document itself). The struct
/// is three words, so passing it as `any Encoder` allocates nothing.
struct CanonicalJSONEncoder: Encoder {
    /// The buffer and the stack of open levels, shared by every encoder and container of one document.
    let writer: CanonicalJSONWriter
    /// The level this encoder writes, an index into the writer's stack.
    let level: Int
    /// The level's identity: a level popped and another pushed at the same depth gets a new token,
    /// so an encoder kept past its value's lifetime is recognized as stale.
    let token: Int

    /// The canonical JSON of `value`: Foundation's bytes, from the fast path
    /// when it can produce them, from `JSONCoding.foundationEncoder()` otherwise.
    ///
    /// A value that throws is encoded a second time by Foundation, so the
    /// caller sees exactly the error `JSONEncoder` reports (errors are rare:
    /// the price of running twice is paid only then).
    static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        if let bytes = encodeWithoutFallback(value) { return bytes }
        return Array(try JSONCoding.foundationEncoder().encode(value))
    }

    /// The fast path alone: the bytes, or nil when the value needs Foundation
    /// (it threw, or did something this encoder does not reproduce).
    static func encodeWithoutFallback<T: Encodable>(_ value: T) -> [UInt8]? {
        let writer = CanonicalJSONWriter()
        do {
            try writer.encodeDocument(value)
        } catch {
            return nil
        }
        return writer.isAbandoned ? nil : writer.takeBytes()
    }

    // MARK: Encoder

    var codingPath: [any CodingKey] {
        writer.buffer.codingPath(level: level, token: token)
    }

    /// Always empty: `JSONCoding` sets no user info.
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        let valid = writer.buffer.openContainer(level: level, token: token, content: .object)
        return KeyedEncodingContainer(
            CanonicalJSONKeyedContainer<Key>(writer: writer, level: valid ? level : -1, token: token))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        let valid = writer.buffer.openContainer(level: level, token: token, content: .array)
        return CanonicalJSONUnkeyedContainer(writer: writer, level: valid ? level : -1, token: token)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        CanonicalJSONSingleValueContainer(writer: writer, level: level, token: token)
    }
}
