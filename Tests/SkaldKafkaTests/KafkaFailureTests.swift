import SkaldKafka
import Testing

@Suite struct KafkaFailureTests {
    @Test func unreachableBootstrapFailsSendWithAClearError() async throws {
        var configuration = KafkaConfiguration(bootstrapServers: "127.0.0.1:1")
        configuration.messageTimeout = .seconds(2)
        let producer = try KafkaProducer(configuration: configuration, logger: testLogger)
        let error = await #expect(throws: KafkaError.self) {
            _ = try await producer.send(KafkaOutgoingMessage(topic: "nowhere", key: nil, value: "lost"))
        }
        #expect(error?.code == .messageTimedOut)
        #expect(error?.isRetriable == true)
        await producer.shutdown()
    }

    @Test func unreachableBootstrapFailsMetadataCheck() async throws {
        let producer = try KafkaProducer(configuration: KafkaConfiguration(bootstrapServers: "127.0.0.1:1"), logger: testLogger)
        let producerError = await #expect(throws: KafkaError.self) {
            _ = try await producer.metadata(timeout: .seconds(2))
        }
        #expect(producerError?.context == "KafkaProducer.metadata")
        await producer.shutdown()

        var configuration = KafkaConfiguration(bootstrapServers: "127.0.0.1:1")
        configuration.groupID = uniqueName("g")
        let consumer = try KafkaConsumer(configuration: configuration, topics: ["nowhere"], logger: testLogger)
        let consumerError = await #expect(throws: KafkaError.self) {
            _ = try await consumer.metadata(timeout: .seconds(2))
        }
        #expect(consumerError?.context == "KafkaConsumer.metadata")
        try? await consumer.close()
    }

    @Test func consumerNeedsAGroupAndTopics() throws {
        let noGroup = try #require(throws: KafkaError.self) {
            _ = try KafkaConsumer(configuration: KafkaConfiguration(bootstrapServers: "127.0.0.1:1"), topics: ["t"])
        }
        #expect(noGroup.description.contains("group.id"))

        var configuration = KafkaConfiguration(bootstrapServers: "127.0.0.1:1")
        configuration.groupID = "g"
        #expect(throws: KafkaError.self) {
            _ = try KafkaConsumer(configuration: configuration, topics: [])
        }
    }

    @Test func closedClientsRefuseWork() async throws {
        let cluster = try MockCluster(brokers: 1)
        let producer = try KafkaProducer(configuration: producerConfiguration(cluster), logger: testLogger)
        await producer.shutdown()
        await #expect(throws: KafkaError.self) {
            _ = try await producer.send(KafkaOutgoingMessage(topic: "t", key: nil, value: "late"))
        }
        await producer.shutdown()  // twice is fine

        let consumer = try KafkaConsumer(configuration: consumerConfiguration(cluster, group: uniqueName("g")), topics: ["t"], logger: testLogger)
        try await consumer.close()
        try await consumer.close()
        #expect(try await consumer.nextBatch() == nil)
        #expect(throws: KafkaError.self) {
            try consumer.storeOffset(topic: "t", partition: 0, offset: 1)
        }
        await #expect(throws: KafkaError.self) { try await consumer.commit() }
    }

    @Test func mockClusterRejectsBadInput() throws {
        #expect(throws: KafkaError.self) { _ = try MockCluster(brokers: 0) }
        let cluster = try MockCluster(brokers: 2)
        #expect(throws: KafkaError.self) { try cluster.createTopic(uniqueName("t"), partitions: 0) }
        #expect(throws: KafkaError.self) { try cluster.createTopic(uniqueName("t"), partitions: 1, replicationFactor: 3) }
        #expect(throws: KafkaError.self) { try cluster.setBrokerDown(42) }
        cluster.shutdown()
        #expect(throws: KafkaError.self) { try cluster.createTopic(uniqueName("t"), partitions: 1) }
    }
}
