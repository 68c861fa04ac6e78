/// A JSON document with no schema attached.
///
/// It is what a payload decodes to when the reader does not know its Swift type
/// (tools, a newer log read by an older binary), so nothing is lost on the way
/// through and nothing crashes.
public enum JSONValue: Codable, Sendable, Hashable {
    /// `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// Any number; JSON does not separate integers from reals.
    case number(Double)
    /// A string.
    case string(String)
    /// An array.
    case array([JSONValue])
    /// An object.
    case object([String: JSONValue])

    /// Decodes any JSON value.
    public init(from decoder: any Decoder) throws {
        // Skald's own decoder hands over the parsed value: the attempts below rely on
        // caught errors, which that decoder leaves to Foundation (see `JSONTape`).
        if let tape = decoder as? JSONTapeDecoder {
            self = try tape.tape.jsonValue(tape.node)
            return
        }
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let bool = try? container.decode(Bool.self) {
            self = .bool(bool)
        } else if let number = try? container.decode(Double.self) {
            self = .number(number)
        } else if let string = try? container.decode(String.self) {
            self = .string(string)
        } else if let array = try? container.decode([JSONValue].self) {
            self = .array(array)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    /// Encodes the value as it was read.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value):
            if value.rounded() == value, abs(value) < 9e15 {
                try container.encode(Int64(value))
            } else {
                try container.encode(value)
            }
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// The member `key` of an object, or nil.
    public subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    /// The string value, or the number written without a fraction; nil otherwise.
    public var stringValue: String? {
        switch self {
        case .string(let value): return value
        case .number(let value) where value.rounded() == value && abs(value) < 9e15: return String(Int64(value))
        case .number(let value): return String(value)
        default: return nil
        }
    }
}
