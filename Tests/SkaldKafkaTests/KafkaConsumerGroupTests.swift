import SkaldKafka
import Testing

@Suite struct KafkaConsumerGroupTests {
    @Test func hundredThousandMessagesThroughATwoMemberGroupWithoutLoss() async throws {
        let cluster = try MockCluster(brokers: 3)
        let topic = uniqueName("group")
        let group = uniqueName("g")
        let total = 100_000
        try cluster.createTopic(topic, partitions: 8)

        let first = try KafkaConsumer(configuration: consumerConfiguration(cluster, group: group), topics: [topic], logger: testLogger)
        let second = try KafkaConsumer(configuration: consumerConfiguration(cluster, group: group), topics: [topic], logger: testLogger)
        let tally = Tally()
        async let firstDone: Void = consumeAndCommit(first, into: tally)
        async let secondDone: Void = consumeAndCommit(second, into: tally)

        try await eventually("both members own partitions") {
            let (a, b) = (first.assignment, second.assignment)
            return !a.isEmpty && !b.isEmpty && a.union(b).count == 8 && a.isDisjoint(with: b)
        }

        let producer = try KafkaProducer(configuration: producerConfiguration(cluster), logger: testLogger)
        for start in stride(from: 0, to: total, by: 10_000) {
            let batch = (start..<start + 10_000).map {
                KafkaOutgoingMessage(topic: topic, key: "saga-\($0 % 997)", value: "\($0)")
            }
            let results = try await producer.send(batch)
            #expect(results.allSatisfy { (try? $0.get()) != nil })
        }
        await producer.shutdown()

        try await eventually("every message consumed") { tally.distinct == total }
        let firstPartitions = first.assignment
        try await first.close()
        try await second.close()
        try await firstDone
        try await secondDone

        #expect(tally.missing(from: 0..<total).isEmpty)
        #expect(!firstPartitions.isEmpty)
        // Duplicates are allowed (at-least-once); record how many for the log.
        print("consumer group: \(total) messages, \(tally.duplicates) duplicates")
    }

    @Test func theRemainingMemberTakesOverWhenOneClosesMidStream() async throws {
        let cluster = try MockCluster(brokers: 3)
        let topic = uniqueName("takeover")
        let group = uniqueName("g")
        let total = 40_000
        try cluster.createTopic(topic, partitions: 8)
        let producer = try KafkaProducer(configuration: producerConfiguration(cluster), logger: testLogger)
        let results = try await producer.send((0..<total).map { KafkaOutgoingMessage(topic: topic, key: "\($0)", value: "\($0)") })
        #expect(results.allSatisfy { (try? $0.get()) != nil })
        await producer.shutdown()

        var small = consumerConfiguration(cluster, group: group)
        small.consumerBufferCapacity = 500  // keeps most messages unread when the member leaves
        let leaving = try KafkaConsumer(configuration: small, topics: [topic], logger: testLogger)
        let staying = try KafkaConsumer(configuration: small, topics: [topic], logger: testLogger)
        let tally = Tally()
        async let leavingDone: Void = consumeAndCommit(leaving, into: tally, pause: .milliseconds(20))
        async let stayingDone: Void = consumeAndCommit(staying, into: tally, pause: .milliseconds(20))
        try await eventually("both members own partitions") {
            !leaving.assignment.isEmpty && !staying.assignment.isEmpty
        }
        try await leaving.close()
        try await leavingDone
        #expect(tally.distinct < total)

        try await eventually("the remaining member owns every partition") { staying.assignment.count == 8 }
        try await eventually("every message consumed") { tally.distinct == total }
        try await staying.close()
        try await stayingDone
        #expect(tally.missing(from: 0..<total).isEmpty)
        print("takeover: \(total) messages, \(tally.duplicates) duplicates")
    }

    @Test func aNewMemberResumesFromCommittedOffsets() async throws {
        let cluster = try MockCluster(brokers: 1)
        let topic = uniqueName("resume")
        let group = uniqueName("g")
        try cluster.createTopic(topic, partitions: 1)
        let producer = try KafkaProducer(configuration: producerConfiguration(cluster), logger: testLogger)
        let results = try await producer.send((0..<100).map { KafkaOutgoingMessage(topic: topic, key: nil, value: "\($0)") })
        #expect(results.allSatisfy { (try? $0.get()) != nil })
        await producer.shutdown()

        let first = try KafkaConsumer(configuration: consumerConfiguration(cluster, group: group), topics: [topic], logger: testLogger)
        var seen: [KafkaMessage] = []
        while seen.count < 100, let batch = try await first.nextBatch(maxCount: 100) {
            seen += batch
        }
        #expect(seen.map(\.offset) == Array(0..<100))
        // Only the first 60 are done; the rest must come back to the next member.
        try first.storeOffsets(for: seen.prefix(40))
        try await first.commit()
        try first.storeOffset(topic: topic, partition: 0, offset: 59)
        try await first.close()  // commits offset 60 and leaves the group at once

        let second = try KafkaConsumer(configuration: consumerConfiguration(cluster, group: group), topics: [topic], logger: testLogger)
        var resumed: [KafkaMessage] = []
        while resumed.count < 40, let batch = try await second.nextBatch(maxCount: 100) {
            resumed += batch
        }
        #expect(resumed.map(\.offset) == Array(60..<100))
        #expect(resumed.map(\.id) == Array(60..<100))
        try await second.close()
    }

    @Test(arguments: ["cooperative-sticky", "range"])
    func rebalanceEventsReportAssignmentAndRevocation(strategy: String) async throws {
        let cluster = try MockCluster(brokers: 1)
        let topic = uniqueName("rebalance")
        try cluster.createTopic(topic, partitions: 3)
        var configuration = consumerConfiguration(cluster, group: uniqueName("g"))
        configuration["partition.assignment.strategy"] = strategy
        let consumer = try KafkaConsumer(configuration: configuration, topics: [topic], logger: testLogger)
        var iterator = consumer.rebalanceEvents.makeAsyncIterator()
        let assigned = await iterator.next()
        let expected = (0..<3).map { KafkaTopicPartition(topic: topic, partition: Int32($0)) }
        #expect(assigned == .assigned(expected))
        #expect(consumer.assignment == Set(expected))
        try await consumer.close()
        #expect(await iterator.next() == .revoked(expected))
        #expect(await iterator.next() == nil)
    }
}
