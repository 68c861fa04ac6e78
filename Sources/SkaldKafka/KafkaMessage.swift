public import Foundation

/// A consumed message.
///
/// After processing it, hand it to `KafkaConsumer.storeOffsets(for:)` so its
/// offset is committed; messages never marked done are read again after a
/// restart or rebalance.
///
/// A value type held by one reference (copied when changed while shared), so copying a
/// message costs one reference count whatever it holds.
public struct KafkaMessage: Sendable, Hashable {
    @usableFromInline
    struct Fields: Sendable, Hashable {
        @usableFromInline var topic: String
        @usableFromInline var partition: Int32
        @usableFromInline var offset: Int64
        @usableFromInline var key: [UInt8]?
        @usableFromInline var value: [UInt8]
        @usableFromInline var headers: KafkaHeaders
        @usableFromInline var timestamp: Date?
    }

    @usableFromInline
    var fields: CopyOnWrite<Fields>

    /// The topic the message came from.
    @inlinable
    public var topic: String {
        _read { yield fields.value.topic }
        _modify { yield &fields.value.topic }
    }
    /// The partition the message came from.
    @inlinable
    public var partition: Int32 {
        _read { yield fields.value.partition }
        _modify { yield &fields.value.partition }
    }
    /// The message's own offset (the committed position after it is `offset + 1`).
    @inlinable
    public var offset: Int64 {
        _read { yield fields.value.offset }
        _modify { yield &fields.value.offset }
    }
    /// The key, if the producer set one.
    @inlinable
    public var key: [UInt8]? {
        _read { yield fields.value.key }
        _modify { yield &fields.value.key }
    }
    /// The payload (empty for a null value).
    @inlinable
    public var value: [UInt8] {
        _read { yield fields.value.value }
        _modify { yield &fields.value.value }
    }
    /// Record headers, in order.
    @inlinable
    public var headers: KafkaHeaders {
        _read { yield fields.value.headers }
        _modify { yield &fields.value.headers }
    }
    /// The record timestamp (creation or log-append time), when the broker provides one.
    @inlinable
    public var timestamp: Date? {
        _read { yield fields.value.timestamp }
        _modify { yield &fields.value.timestamp }
    }

    /// A message as the consumer builds it; public so tests and replay tools can fabricate messages.
    public init(
        topic: String,
        partition: Int32,
        offset: Int64,
        key: [UInt8]? = nil,
        value: [UInt8],
        headers: KafkaHeaders = [],
        timestamp: Date? = nil
    ) {
        fields = CopyOnWrite(
            Fields(
                topic: topic, partition: partition, offset: offset, key: key, value: value, headers: headers,
                timestamp: timestamp))
    }

    /// The key decoded as UTF-8, if there is a key.
    public var keyString: String? {
        key.map { String(decoding: $0, as: UTF8.self) }
    }

    /// The value decoded as UTF-8.
    public var valueString: String {
        String(decoding: value, as: UTF8.self)
    }

    /// The topic and partition the message belongs to.
    public var topicPartition: KafkaTopicPartition {
        KafkaTopicPartition(topic: topic, partition: partition)
    }
}

extension KafkaMessage: CustomStringConvertible {
    /// Where the message came from and what it holds, for logs and test failures (its
    /// fields live in a box, which the default description would show instead).
    public var description: String {
        "KafkaMessage(\(topic)/\(partition)/\(offset), key: \(keyString.map { "\"\($0)\"" } ?? "nil"), "
            + "value: \(Self.preview(value)), headers: \(headers))"
    }

    /// A value as text, cut after 200 bytes.
    static func preview(_ value: [UInt8]) -> String {
        let text = String(decoding: value.prefix(200), as: UTF8.self)
        return "\"\(text)\"" + (value.count > 200 ? "… (\(value.count) bytes)" : "")
    }
}
