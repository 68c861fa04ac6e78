import Foundation
import SkaldKafka
import Testing

@testable import SkaldCLI

/// The benchmarks' CPU accounting, and its split of librdkafka's threads out of the process's CPU.
@Suite("CPU time: the Kafka mock's and librdkafka's share")
struct CPUTimeTests {
    @Test("producing through a mock cluster shows up as the mock's thread and the client's threads, within the process's CPU")
    func kafkaThreadsAreCounted() async throws {
        let cluster = try MockCluster(brokers: 1)
        defer { cluster.shutdown() }
        try cluster.createTopic("cpu-time", partitions: 4)
        let before = CPUTime.now(postmaster: nil)
        let producer = try KafkaProducer(configuration: mockKafka(cluster.bootstrapServers), logger: e2eLogger)
        for round in 0..<50 {
            let messages = (0..<2_000).map { index in
                KafkaOutgoingMessage(topic: "cpu-time", key: "k\(index % 16)", value: "round \(round) message \(index)")
            }
            for result in try await producer.send(messages) { _ = try result.get() }
        }
        // Read while the producer lives: the threads of a client that has shut down are gone.
        let used = CPUTime.now(postmaster: nil) - before
        await producer.shutdown()
        // Other suites may run mocks and clients at the same time: they only add to both sides.
        #expect(used.kafkaMock > 0, "the mock's thread appended 100,000 messages")
        #expect(used.kafkaClients > 0, "the producer's threads sent them")
        // Threads are read in nanoseconds, the process in 10 ms ticks: allow for the rounding.
        #expect(used.kafkaMock + used.kafkaClients <= used.process * 1.1 + 0.05, "librdkafka's threads are part of the process")
    }

    @Test("the summary line gives each share per unit, leaves out a mock that did not run, and says nothing without Kafka")
    func kafkaLine() {
        let withMock = CPUTime(process: 1, postgres: 0, kafkaMock: 0.001, kafkaClients: 0.002)
        #expect(
            withMock.kafkaLine(per: 10, unit: "saga")
                == "of which Kafka: 100 µs the mock broker's thread, 200 µs librdkafka's client threads, per saga")
        let realBroker = CPUTime(process: 1, postgres: 0, kafkaMock: 0, kafkaClients: 0.003)
        #expect(realBroker.kafkaLine(per: 1_000, unit: "transition") == "of which Kafka: 3 µs librdkafka's client threads, per transition")
        #expect(CPUTime(process: 1, postgres: 0).kafkaLine(per: 10, unit: "saga") == nil)
        #expect(withMock.kafkaLine(per: 0, unit: "saga") == nil)
    }
}
