import SkaldKafka
import Testing

/// `KafkaConsumer.lag()`: what waits after the last message marked processed.
@Suite struct KafkaConsumerLagTests {
    /// A new topic with a partition per count, holding that many messages.
    static func topic(_ prefix: String, on cluster: MockCluster, messagesPerPartition counts: [Int]) async throws -> String {
        let topic = uniqueName(prefix)
        try cluster.createTopic(topic, partitions: counts.count)
        let producer = try KafkaProducer(configuration: producerConfiguration(cluster), logger: testLogger)
        let messages = counts.enumerated().flatMap { partition, count in
            (0..<count).map { KafkaOutgoingMessage(topic: topic, partition: Int32(partition), key: "k", value: "\($0)") }
        }
        for report in try await producer.send(messages) { _ = try report.get() }
        await producer.shutdown()
        return topic
    }

    @Test("lag counts from the last stored offset to the high watermark, per assigned partition")
    func lagFollowsStoredOffsets() async throws {
        let cluster = try MockCluster(brokers: 1)
        // Ten messages in partition 0, four in partition 1.
        let topic = try await Self.topic("lag", on: cluster, messagesPerPartition: [10, 4])

        let group = uniqueName("g")
        let consumer = try KafkaConsumer(
            configuration: consumerConfiguration(cluster, group: group), topics: [topic], logger: testLogger)
        defer { Task { try? await consumer.close() } }
        #expect(await consumer.lag().isEmpty, "nothing assigned yet")
        var received: [KafkaMessage] = []
        while received.count < 14, let batch = try await consumer.nextBatch(maxCount: 100) {
            received += batch
        }
        let first = KafkaTopicPartition(topic: topic, partition: 0)
        let second = KafkaTopicPartition(topic: topic, partition: 1)
        // Everything fetched, nothing processed (stored) and nothing committed: all of it waits,
        // however far librdkafka has fetched.
        #expect(await consumer.lag() == [first: 10, second: 4])

        // Four of partition 0's messages processed: six wait there.
        try consumer.storeOffsets(for: received.filter { $0.partition == 0 && $0.offset < 4 })
        #expect(await consumer.lag() == [first: 6, second: 4])
        try consumer.storeOffsets(for: received.filter { $0.partition == 1 && $0.offset == 0 })
        #expect(await consumer.lag() == [first: 6, second: 3])

        // Committed, then handed to a new member of the group: it counts from the committed offsets.
        try await consumer.commit()
        try await consumer.close()
        #expect(await consumer.lag().isEmpty, "a closed consumer owns no partition")
        let successor = try KafkaConsumer(
            configuration: consumerConfiguration(cluster, group: group), topics: [topic], logger: testLogger)
        defer { Task { try? await successor.close() } }
        try await eventually("the successor owns both partitions") { successor.assignment.count == 2 }
        #expect(await successor.lag() == [first: 6, second: 3])

        // More messages arrive: the lag counts them (asked of the broker, not of past fetches).
        let more = try KafkaProducer(configuration: producerConfiguration(cluster), logger: testLogger)
        for report in try await more.send((0..<5).map { KafkaOutgoingMessage(topic: topic, partition: 0, key: "k", value: "\($0)") }) {
            _ = try report.get()
        }
        await more.shutdown()
        #expect(await successor.lag() == [first: 11, second: 3])
        try await successor.close()
    }

    @Test("a batch's offsets are stored per partition at its highest, however its partitions interleave, from an array as from any sequence")
    func storedOffsetsOfInterleavedPartitions() async throws {
        let cluster = try MockCluster(brokers: 1)
        let topic = try await Self.topic("store", on: cluster, messagesPerPartition: [8, 8, 8])

        let consumer = try KafkaConsumer(
            configuration: consumerConfiguration(cluster, group: uniqueName("g")), topics: [topic], logger: testLogger)
        defer { Task { try? await consumer.close() } }
        var received: [KafkaMessage] = []
        while received.count < 24, let batch = try await consumer.nextBatch(maxCount: 100) {
            received += batch
        }
        let partitions = (0..<3).map { KafkaTopicPartition(topic: topic, partition: Int32($0)) }
        #expect(await consumer.lag() == [partitions[0]: 8, partitions[1]: 8, partitions[2]: 8])

        // Runs of one partition, broken up and out of order: partition 0 up to offset 5, partition
        // 1 up to 2 (its highest message comes first), partition 2 not at all.
        let byOffset = { (partition: Int32, offset: Int64) in
            received.first { $0.partition == partition && $0.offset == offset }!
        }
        let interleaved = [
            byOffset(0, 1), byOffset(0, 3), byOffset(1, 2), byOffset(0, 5), byOffset(0, 0), byOffset(1, 0), byOffset(1, 1),
            byOffset(0, 2),
        ]
        try consumer.storeOffsets(for: interleaved)
        #expect(await consumer.lag() == [partitions[0]: 2, partitions[1]: 5, partitions[2]: 8])

        // The generic overload, given them in reverse, agrees; in one call a partition's lower
        // offset after its highest does not lower it.
        try consumer.storeOffsets(for: interleaved.reversed().lazy.filter { _ in true })
        #expect(await consumer.lag() == [partitions[0]: 2, partitions[1]: 5, partitions[2]: 8])
        try consumer.storeOffsets(for: [byOffset(2, 6), byOffset(2, 7), byOffset(1, 6), byOffset(2, 3)])
        #expect(await consumer.lag() == [partitions[0]: 2, partitions[1]: 1, partitions[2]: 0])
        try await consumer.close()
    }
}
