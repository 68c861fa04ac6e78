import SkaldKafka
import Testing

/// `KafkaConsumer.lag()`: what waits after the last message marked processed.
@Suite struct KafkaConsumerLagTests {
    @Test("lag counts from the last stored offset to the high watermark, per assigned partition")
    func lagFollowsStoredOffsets() async throws {
        let cluster = try MockCluster(brokers: 1)
        let topic = uniqueName("lag")
        try cluster.createTopic(topic, partitions: 2)
        let producer = try KafkaProducer(configuration: producerConfiguration(cluster), logger: testLogger)
        // Ten messages in partition 0, four in partition 1.
        let messages = (0..<10).map { KafkaOutgoingMessage(topic: topic, partition: 0, key: "k", value: "\($0)") }
            + (0..<4).map { KafkaOutgoingMessage(topic: topic, partition: 1, key: "k", value: "\($0)") }
        for report in try await producer.send(messages) { _ = try report.get() }
        await producer.shutdown()

        let consumer = try KafkaConsumer(
            configuration: consumerConfiguration(cluster, group: uniqueName("g")), topics: [topic], logger: testLogger)
        #expect(consumer.lag().isEmpty, "nothing assigned yet")
        var received: [KafkaMessage] = []
        while received.count < 14, let batch = try await consumer.nextBatch(maxCount: 100) {
            received += batch
        }
        let first = KafkaTopicPartition(topic: topic, partition: 0)
        let second = KafkaTopicPartition(topic: topic, partition: 1)
        // Everything was fetched and nothing stored: the lag counts from the fetch position.
        try await eventually("both partitions' watermarks known") { consumer.lag().count == 2 }
        #expect(consumer.lag() == [first: 0, second: 0])

        // Four of partition 0's messages processed: six wait there; partition 1 still counts from its position.
        try consumer.storeOffsets(for: received.filter { $0.partition == 0 && $0.offset < 4 })
        #expect(consumer.lag() == [first: 6, second: 0])
        try consumer.storeOffsets(for: received.filter { $0.partition == 1 && $0.offset == 0 })
        #expect(consumer.lag() == [first: 6, second: 3])
        try consumer.storeOffsets(for: received)
        #expect(consumer.lag() == [first: 0, second: 0])

        try await consumer.close()
        #expect(consumer.lag().isEmpty, "a closed consumer owns no partition")
    }
}
