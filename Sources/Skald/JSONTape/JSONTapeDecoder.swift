import Foundation

/// The `Decoder` over one node of a ``JSONTape``. See ``JSONTape`` for when the
/// fast path gives up and Foundation decodes instead.
struct JSONTapeDecoder: Decoder {
    let tape: JSONTape
    let node: Int

    /// Foundation's paths are not tracked: a type that reads its coding path (almost
    /// always to report an error) is decoded by Foundation.
    var codingPath: [any CodingKey] {
        _ = tape.giveUp()
        return []
    }

    var userInfo: [CodingUserInfoKey: Any] { tape.userInfo }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard tape.nodes[node].kind == .object else { throw tape.giveUp() }
        return KeyedDecodingContainer(JSONTapeKeyedContainer<Key>(tape: tape, object: node))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard tape.nodes[node].kind == .array else { throw tape.giveUp() }
        return JSONTapeUnkeyedContainer(tape: tape, array: node)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        JSONTapeSingleValueContainer(tape: tape, node: node)
    }

    /// Decodes a `T` from this node, as Foundation's `unwrap` does: the types it treats
    /// specially are left to it, scalars are read directly, anything else runs
    /// `init(from:)` on this decoder.
    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        if T.self == String.self {
            return unsafeBitCast(try decodeString(), to: T.self)
        } else if T.self == Int.self {
            return unsafeBitCast(try tape.integer(node, as: Int.self), to: T.self)
        } else if T.self == Bool.self {
            return unsafeBitCast(try decodeBool(), to: T.self)
        } else if T.self == Double.self {
            return unsafeBitCast(try tape.double(node), to: T.self)
        } else if T.self == JSONValue.self {
            return unsafeBitCast(try tape.jsonValue(node), to: T.self)
        } else if T.self == Date.self || T.self == Data.self || T.self == URL.self || T.self == Decimal.self {
            throw tape.giveUp()
        }
        return try T(from: self)
    }

    func decodeString() throws -> String {
        guard tape.nodes[node].kind == .string else { throw tape.giveUp() }
        return tape.string(node)
    }

    func decodeBool() throws -> Bool {
        switch tape.nodes[node].kind {
        case .true: return true
        case .false: return false
        default: throw tape.giveUp()
        }
    }

    var isNull: Bool { tape.nodes[node].kind == .null }
}
