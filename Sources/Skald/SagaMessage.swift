import Foundation

/// A typed message a saga sends or receives: a command, a reply or a domain event.
///
/// The `messageType` is what travels in the CloudEvents `ce_type` header and
/// what stored events name, so it must stay stable for as long as logs are
/// kept. The default (the Swift type name) is convenient for prototypes; give
/// long-lived messages an explicit, namespaced name so a rename in Swift does
/// not orphan old logs.
public protocol SagaMessage: Codable, Sendable {
    /// The stable name of this message type, e.g. `com.example.orders.OrderCreated`.
    static var messageType: String { get }
}

extension SagaMessage {
    /// Defaults to the Swift type name; override it for messages stored for years.
    public static var messageType: String { String(describing: Self.self) }
}

/// A message body kept decoded in memory.
///
/// Payloads stay typed on the hot path (`decide` and `evolve` never touch JSON);
/// they are encoded only at the storage or wire edge. A payload read without the
/// definition that knows its type holds a ``JSONValue`` and is converted on demand.
public struct Payload: Sendable {
    /// The decoded value: the user's typed message, or a ``JSONValue``.
    public let value: any Encodable & Sendable

    /// Wraps a typed value.
    public init(_ value: any Encodable & Sendable) {
        self.value = value
    }

    /// The value as `T`: a cast when it is already typed, a JSON round trip when it
    /// was read generically.
    @inlinable
    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        if let typed = Payload.exactly(value, T.self) { return typed }
        if let typed = value as? T { return typed }
        return try decodeConverting(T.self)
    }

    /// Whether the value is exactly a `T`: a comparison of type pointers, far cheaper
    /// than the general dynamic cast (it runs for every reply).
    @inlinable
    func holdsExactly<T>(_ type: T.Type) -> Bool {
        ObjectIdentifier(Swift.type(of: value)) == ObjectIdentifier(T.self)
    }

    /// The value as `T` when its dynamic type is exactly `T`; nil otherwise. The
    /// constraint on `Value` makes Swift open the existential (an unconstrained
    /// parameter would bind to the existential type itself), so no dynamic cast runs.
    @inlinable
    static func exactly<Value: Encodable & Sendable, T>(_ value: Value, _ type: T.Type) -> T? {
        guard Value.self == T.self else { return nil }
        return withUnsafePointer(to: value) { UnsafeRawPointer($0).load(as: T.self) }
    }

    /// The slow path of ``decode(_:)``: a payload read generically goes through JSON.
    @usableFromInline
    func decodeConverting<T: Decodable>(_ type: T.Type) throws -> T {
        let bytes = try jsonBytes()
        if let value = JSONTape.decode(bytes, { try $0.decode(T.self) }) { return value }
        return try JSONCoding.decoder().decode(T.self, from: Data(bytes))
    }

    /// The canonical JSON bytes (sorted keys), used on the wire and to compare payloads.
    public func jsonBytes() throws -> [UInt8] {
        // Through `AnyEncodable`, as always: the value's own `encode(to:)` runs, so a bare
        // `Date` payload stays a number rather than taking the date strategy.
        try JSONCoding.encode(AnyEncodable(value))
    }

    /// The payload as a generic JSON tree.
    public func jsonValue() throws -> JSONValue {
        if let json = value as? JSONValue { return json }
        let bytes = try jsonBytes()
        if let json = JSONTape.decode(bytes, { try $0.decode(JSONValue.self) }) { return json }
        return try JSONCoding.decoder().decode(JSONValue.self, from: Data(bytes))
    }
}

extension Payload: Equatable {
    /// Payloads are equal when their canonical JSON is equal (values need not be `Equatable`).
    public static func == (lhs: Payload, rhs: Payload) -> Bool {
        guard let left = try? lhs.jsonValue(), let right = try? rhs.jsonValue() else { return false }
        return left == right
    }
}

extension Payload: CustomStringConvertible {
    /// The canonical JSON text, for logs and divergence reports.
    public var description: String {
        guard let bytes = try? jsonBytes() else { return "<unencodable \(type(of: value))>" }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Lets an existential be handed to `JSONEncoder`.
struct AnyEncodable: Encodable {
    let base: any Encodable

    init(_ base: any Encodable) {
        self.base = base
    }

    func encode(to encoder: any Encoder) throws {
        try base.encode(to: encoder)
    }
}

/// One place for the JSON settings, so every byte Skald writes is canonical.
enum JSONCoding {
    /// The reference encoding: Foundation's `JSONEncoder` with sorted keys, unescaped
    /// slashes and ``Timestamp`` dates. ``encode(_:)`` writes the same bytes faster with
    /// ``CanonicalJSONEncoder`` and uses this one for what that leaves to Foundation.
    static func foundationEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Timestamp.format(date))
        }
        return encoder
    }

    /// The decoder for everything Skald reads: dates as RFC 3339 text, as Skald writes them,
    /// or as the number Foundation's default `JSONEncoder` writes (seconds since 2001), so a
    /// participant that encodes with Foundation's defaults is understood too.
    static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            if let seconds = try? container.decode(Double.self) {
                return Date(timeIntervalSinceReferenceDate: seconds)
            }
            let text = try container.decode(String.self)
            guard let date = Timestamp.parse(text) else {
                throw DecodingError.dataCorruptedError(
                    in: container, debugDescription: "'\(text)' is not an RFC 3339 timestamp")
            }
            return date
        }
        return decoder
    }

    /// The canonical JSON of `value`: exactly the bytes of ``foundationEncoder()``.
    static func encode(_ value: some Encodable) throws -> [UInt8] {
        try CanonicalJSONEncoder.encode(value)
    }
}
