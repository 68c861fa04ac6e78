@testable import SkaldKafka
import Testing

@Suite struct KafkaLifecycleTests {
    @Test func aFullLocalQueueIsWaitedOutNotReported() async throws {
        let cluster = try MockCluster(brokers: 1)
        let topic = uniqueName("queuefull")
        try cluster.createTopic(topic, partitions: 2)
        var configuration = producerConfiguration(cluster)
        configuration["queue.buffering.max.messages"] = "50"
        let producer = try KafkaProducer(configuration: configuration, logger: testLogger)
        let results = try await producer.send((0..<2_000).map { KafkaOutgoingMessage(topic: topic, key: "\($0)", value: "\($0)") })
        #expect(results.count == 2_000)
        #expect(results.allSatisfy { (try? $0.get()) != nil })
        await producer.shutdown()
    }

    @Test func flushWaitsForQueuedMessagesAndFailsAfterShutdown() async throws {
        let cluster = try MockCluster(brokers: 1)
        let topic = uniqueName("flush")
        try cluster.createTopic(topic, partitions: 1)
        let producer = try KafkaProducer(configuration: producerConfiguration(cluster), logger: testLogger)
        let sending = Task { try await producer.send((0..<1_000).map { KafkaOutgoingMessage(topic: topic, key: nil, value: "\($0)") }) }
        try await producer.flush(timeout: .seconds(30))
        #expect(try await sending.value.allSatisfy { (try? $0.get()) != nil })
        try await producer.flush(timeout: .seconds(1))  // nothing queued: returns at once
        await producer.shutdown()
        await #expect(throws: KafkaError.self) { try await producer.flush(timeout: .seconds(1)) }
    }

    @Test func flushTimesOutWhileMessagesCannotBeDelivered() async throws {
        var configuration = KafkaConfiguration(bootstrapServers: "127.0.0.1:1")
        configuration.messageTimeout = .seconds(2)
        let producer = try KafkaProducer(configuration: configuration, logger: testLogger)
        let sending = Task { try await producer.send(KafkaOutgoingMessage(topic: "nowhere", key: nil, value: "stuck")) }
        // The message is queued as soon as send starts; wait until it must be.
        try await Task.sleep(for: .milliseconds(200))
        let error = await #expect(throws: KafkaError.self) { try await producer.flush(timeout: .milliseconds(300)) }
        #expect(error?.code == .timedOut)
        await #expect(throws: KafkaError.self) { _ = try await sending.value }
        await producer.shutdown()
    }

    @Test func aSlowReaderStopsFetchingInsteadOfGrowingTheBuffer() async throws {
        let cluster = try MockCluster(brokers: 1)
        let topic = uniqueName("backpressure")
        try cluster.createTopic(topic, partitions: 4)
        let producer = try KafkaProducer(configuration: producerConfiguration(cluster), logger: testLogger)
        let results = try await producer.send((0..<5_000).map { KafkaOutgoingMessage(topic: topic, key: "\($0)", value: "\($0)") })
        #expect(results.allSatisfy { (try? $0.get()) != nil })
        await producer.shutdown()

        var configuration = consumerConfiguration(cluster, group: uniqueName("g"))
        configuration.consumerBufferCapacity = 100
        let consumer = try KafkaConsumer(configuration: configuration, topics: [topic], logger: testLogger)
        try await eventually("the buffer fills") { consumer.core.buffer.bufferedCount >= 100 }
        // Nobody reads for a while: the poll thread must not take more.
        try await Task.sleep(for: .seconds(1))
        #expect(consumer.core.buffer.bufferedCount <= 100)

        let tally = Tally()
        async let done: Void = consumeAndCommit(consumer, into: tally)
        try await eventually("every message consumed after resuming") { tally.distinct == 5_000 }
        #expect(tally.duplicates == 0)
        try await consumer.close()
        try await done
    }

    @Test func runClosesTheClientsWhenCancelled() async throws {
        let cluster = try MockCluster(brokers: 1)
        let topic = uniqueName("service")
        try cluster.createTopic(topic, partitions: 1)
        let producer = try KafkaProducer(configuration: producerConfiguration(cluster), logger: testLogger)
        let consumer = try KafkaConsumer(configuration: consumerConfiguration(cluster, group: uniqueName("g")), topics: [topic], logger: testLogger)
        _ = try await producer.send(KafkaOutgoingMessage(topic: topic, key: nil, value: "0"))

        let producerRun = Task { try await producer.run() }
        let consumerRun = Task { try await consumer.run() }
        var batches = consumer.batches(maxCount: 10).makeAsyncIterator()
        let first = try await batches.next()
        #expect(first?.map(\.valueString) == ["0"])
        try consumer.storeOffsets(for: first ?? [])

        producerRun.cancel()
        consumerRun.cancel()
        try await producerRun.value
        try await consumerRun.value
        #expect(try await batches.next() == nil)
        await #expect(throws: KafkaError.self) {
            _ = try await producer.send(KafkaOutgoingMessage(topic: topic, key: nil, value: "late"))
        }
    }
}
