import CRdKafka

extension RdKafkaHandle {
    /// Asks a broker for cluster metadata; blocks up to `timeout`, so call it on a worker thread.
    ///
    /// With `topic` set, only that topic is described (auto-creating it if the
    /// cluster allows); otherwise only topics this client already knows.
    func metadata(topic: String?, timeout: Duration, context: String) throws(KafkaError) -> KafkaClusterMetadata {
        var topicHandle: OpaquePointer?
        if let topic {
            topicHandle = rd_kafka_topic_new(pointer, topic, nil)
            if topicHandle == nil {
                throw KafkaError(rd_kafka_last_error(), context: context, message: "cannot create a handle for topic \"\(topic)\"")
            }
        }
        defer { if let topicHandle { rd_kafka_topic_destroy(topicHandle) } }

        var result: UnsafePointer<rd_kafka_metadata>?
        let err = rd_kafka_metadata(pointer, 0, topicHandle, &result, timeout.clampedMilliseconds)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let result else {
            let servers = "no broker answered within \(timeout)"
            throw KafkaError(err, context: context, message: "\(servers): \(String(cString: rd_kafka_err2str(err)))")
        }
        defer { rd_kafka_metadata_destroy(result) }
        let metadata = result.pointee
        let brokers = (0..<Int(metadata.broker_cnt)).map { index in
            let broker = metadata.brokers[index]
            return KafkaClusterMetadata.Broker(
                id: broker.id,
                host: broker.host.map { String(cString: $0) } ?? "",
                port: broker.port
            )
        }
        let topics = (0..<Int(metadata.topic_cnt)).map { index in
            let topic = metadata.topics[index]
            return KafkaClusterMetadata.Topic(
                name: topic.topic.map { String(cString: $0) } ?? "",
                partitionCount: Int(topic.partition_cnt),
                error: topic.err == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : KafkaError.Code(rawValue: topic.err.rawValue)
            )
        }
        return KafkaClusterMetadata(brokers: brokers, topics: topics)
    }
}
