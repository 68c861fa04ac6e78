/// Where the broker stored a produced message.
public struct KafkaDeliveryReport: Sendable, Hashable {
    /// The topic the message was written to.
    public var topic: String
    /// The partition the message was written to.
    public var partition: Int32
    /// The message's offset, or `nil` when the broker did not report one
    /// (librdkafka can lose it for messages retried under idempotence).
    public var offset: Int64?

    /// A report for a message stored at `topic`/`partition`/`offset`.
    public init(topic: String, partition: Int32, offset: Int64?) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
    }
}
