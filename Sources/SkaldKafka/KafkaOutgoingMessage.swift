/// A message to produce: topic, optional partition, optional key, value and headers.
public struct KafkaOutgoingMessage: Sendable, Hashable {
    /// The topic to write to.
    public var topic: String
    /// A fixed partition, or `nil` to let the partitioner choose by key.
    public var partition: Int32?
    /// The key; messages with the same key go to the same partition.
    public var key: [UInt8]?
    /// The payload.
    public var value: [UInt8]
    /// Record headers, kept in order.
    public var headers: KafkaHeaders

    /// A message with raw key and value bytes.
    public init(
        topic: String,
        partition: Int32? = nil,
        key: [UInt8]? = nil,
        value: [UInt8],
        headers: KafkaHeaders = []
    ) {
        self.topic = topic
        self.partition = partition
        self.key = key
        self.value = value
        self.headers = headers
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
