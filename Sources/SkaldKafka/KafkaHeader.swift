/// One Kafka record header: a name and raw bytes (or no value at all).
///
/// Names may repeat within a message; order is kept as produced.
public struct KafkaHeader: Sendable, Hashable {
    /// The header name, e.g. `ce_type`.
    public var name: String
    /// The header value bytes; `nil` is a header with a null value.
    public var value: [UInt8]?

    /// A header with raw bytes.
    public init(name: String, value: [UInt8]?) {
        self.name = name
        self.value = value
    }

    /// A header whose value is the UTF-8 of `value`.
    public init(name: String, value: String) {
        self.name = name
        self.value = Array(value.utf8)
    }

    /// The value decoded as UTF-8, or `nil` when there is no value.
    public var stringValue: String? {
        value.map { String(decoding: $0, as: UTF8.self) }
    }
}

extension Array where Element == KafkaHeader {
    /// The value of the first header called `name`, if any.
    public func first(named name: String) -> [UInt8]? {
        first { $0.name == name }?.value
    }
}
