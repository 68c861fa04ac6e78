import SkaldKafka
import Testing

@Suite struct KafkaRoundTripTests {
    @Test func keysHeadersAndValuesRoundTrip() async throws {
        let cluster = try MockCluster(brokers: 1)
        let topic = uniqueName("roundtrip")
        try cluster.createTopic(topic, partitions: 1)
        let producer = try KafkaProducer(configuration: producerConfiguration(cluster), logger: testLogger)

        let binary: [UInt8] = [0, 1, 2, 0xFF, 0xFE, 0]
        let sent = [
            KafkaOutgoingMessage(
                topic: topic,
                key: "saga-1",
                value: #"{"step":"reserve"}"#,
                headers: [
                    KafkaHeader(name: "ce_type", value: "OrderCreated"),
                    KafkaHeader(name: "ce_id", value: "ü-λ-✓"),
                    KafkaHeader(name: "binary", value: binary),
                    KafkaHeader(name: "null", value: nil),
                    KafkaHeader(name: "ce_type", value: "repeated"),
                ]
            ),
            KafkaOutgoingMessage(topic: topic, key: nil, value: binary),
            KafkaOutgoingMessage(topic: topic, key: [], value: []),
        ]
        let reports = try await producer.send(sent).map { try $0.get() }
        #expect(reports.map(\.partition) == [0, 0, 0])
        #expect(reports.compactMap(\.offset) == [0, 1, 2])
        let single = try await producer.send(KafkaOutgoingMessage(topic: topic, key: "k", value: "last"))
        #expect(single.topic == topic)
        #expect(single.offset == 3)
        await producer.shutdown()

        let consumer = try KafkaConsumer(configuration: consumerConfiguration(cluster, group: uniqueName("g")), topics: [topic], logger: testLogger)
        var received: [KafkaMessage] = []
        for try await message in consumer.messages {
            received.append(message)
            if received.count == 4 { break }
        }
        try await consumer.close()

        #expect(received.map(\.offset) == [0, 1, 2, 3])
        #expect(received.allSatisfy { $0.topic == topic && $0.partition == 0 && $0.timestamp != nil })
        #expect(received[0].keyString == "saga-1")
        #expect(received[0].valueString == #"{"step":"reserve"}"#)
        #expect(received[0].headers == sent[0].headers)
        #expect(received[0].headers.first(named: "ce_id").map { String(decoding: $0, as: UTF8.self) } == "ü-λ-✓")
        #expect(received[1].key == nil)
        #expect(received[1].value == binary)
        #expect(received[1].headers.isEmpty)
        #expect(received[2].value.isEmpty)
        #expect(received[3].valueString == "last")
    }

    @Test func explicitPartitionIsHonoured() async throws {
        let cluster = try MockCluster(brokers: 1)
        let topic = uniqueName("partitioned")
        try cluster.createTopic(topic, partitions: 4)
        let producer = try KafkaProducer(configuration: producerConfiguration(cluster), logger: testLogger)
        let reports = try await producer.send((0..<4).map { KafkaOutgoingMessage(topic: topic, partition: Int32($0), key: nil, value: "\($0)") })
        #expect(try reports.map { try $0.get().partition } == [0, 1, 2, 3])

        let bad = try await producer.send([
            KafkaOutgoingMessage(topic: topic, partition: 99, key: nil, value: "x"),
            KafkaOutgoingMessage(topic: topic, partition: 1, key: nil, value: "fine"),
        ])
        #expect(throws: KafkaError.self) { try bad[0].get() }
        #expect(try bad[1].get().partition == 1)
        await producer.shutdown()
    }
}
