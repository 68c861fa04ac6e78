/// What a broker reported about the cluster: brokers and topics.
public struct KafkaClusterMetadata: Sendable, Hashable {
    /// One broker of the cluster.
    public struct Broker: Sendable, Hashable {
        /// The broker id.
        public var id: Int32
        /// The advertised host.
        public var host: String
        /// The advertised port.
        public var port: Int32
    }

    /// One topic and how many partitions it has.
    public struct Topic: Sendable, Hashable {
        /// The topic name.
        public var name: String
        /// The number of partitions.
        public var partitionCount: Int
        /// A topic-level error, e.g. `UNKNOWN_TOPIC_OR_PART`, if the broker reported one.
        public var error: KafkaError.Code?
    }

    /// The brokers of the cluster.
    public var brokers: [Broker]
    /// The topics asked about (or all topics).
    public var topics: [Topic]
}
