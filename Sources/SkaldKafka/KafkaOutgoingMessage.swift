/// A message to produce: topic, optional partition, optional key, value and headers.
///
/// A value type held by one reference (copied when changed while shared), so copying a
/// message into a batch, a hand-over or a retry costs one reference count whatever it holds.
public struct KafkaOutgoingMessage: Sendable, Hashable {
    @usableFromInline
    struct Fields: Sendable, Hashable {
        @usableFromInline var topic: String
        @usableFromInline var partition: Int32?
        @usableFromInline var key: [UInt8]?
        @usableFromInline var value: [UInt8]
        @usableFromInline var headers: KafkaHeaders
    }

    @usableFromInline
    var fields: CopyOnWrite<Fields>

    /// The topic to write to.
    @inlinable
    public var topic: String {
        _read { yield fields.value.topic }
        _modify { yield &fields.value.topic }
    }
    /// A fixed partition, or `nil` to let the partitioner choose by key.
    @inlinable
    public var partition: Int32? {
        _read { yield fields.value.partition }
        _modify { yield &fields.value.partition }
    }
    /// The key; messages with the same key go to the same partition.
    @inlinable
    public var key: [UInt8]? {
        _read { yield fields.value.key }
        _modify { yield &fields.value.key }
    }
    /// The payload.
    @inlinable
    public var value: [UInt8] {
        _read { yield fields.value.value }
        _modify { yield &fields.value.value }
    }
    /// Record headers, kept in order.
    @inlinable
    public var headers: KafkaHeaders {
        _read { yield fields.value.headers }
        _modify { yield &fields.value.headers }
    }

    /// A message with raw key and value bytes.
    public init(
        topic: String,
        partition: Int32? = nil,
        key: [UInt8]? = nil,
        value: [UInt8],
        headers: KafkaHeaders = []
    ) {
        fields = CopyOnWrite(Fields(topic: topic, partition: partition, key: key, value: value, headers: headers))
    }

    /// A message whose key and value are the UTF-8 of the given strings.
    public init(
        topic: String,
        partition: Int32? = nil,
        key: String?,
        value: String,
        headers: KafkaHeaders = []
    ) {
        self.init(
            topic: topic,
            partition: partition,
            key: key.map { Array($0.utf8) },
            value: Array(value.utf8),
            headers: headers
        )
    }
}

extension KafkaOutgoingMessage: CustomStringConvertible {
    /// Where the message goes and what it holds, for logs and test failures (its fields live
    /// in a box, which the default description would show instead).
    public var description: String {
        let key = key.map { "\"\(String(decoding: $0, as: UTF8.self))\"" } ?? "nil"
        return "KafkaOutgoingMessage(\(topic)\(partition.map { "/\($0)" } ?? ""), key: \(key), "
            + "value: \(KafkaMessage.preview(value)), headers: \(headers))"
    }
}
