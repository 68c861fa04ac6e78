public import Foundation

/// A consumed message.
///
/// After processing it, hand it to `KafkaConsumer.storeOffsets(for:)` so its
/// offset is committed; messages never marked done are read again after a
/// restart or rebalance.
public struct KafkaMessage: Sendable, Hashable {
    /// The topic the message came from.
    public var topic: String
    /// The partition the message came from.
    public var partition: Int32
    /// The message's own offset (the committed position after it is `offset + 1`).
    public var offset: Int64
    /// The key, if the producer set one.
    public var key: [UInt8]?
    /// The payload (empty for a null value).
    public var value: [UInt8]
    /// Record headers, in order.
    public var headers: KafkaHeaders
    /// The record timestamp (creation or log-append time), when the broker provides one.
    public var timestamp: Date?

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
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.value = value
        self.headers = headers
        self.timestamp = timestamp
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
