import Foundation
import SkaldKafka
import SkaldPostgres
import SkaldTestSupport
import Testing

@testable import SkaldCLI

/// The benchmarks' CPU accounting, and its split of librdkafka's and the Postgres connections'
/// threads out of the process's CPU.
@Suite("CPU time: the Kafka mock's, librdkafka's and the Postgres connections' share")
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

    @Test("queries on a connection show up as the Postgres connections' threads, named so for the system, within the process's CPU")
    func postgresThreadsAreCounted() async throws {
        let connection = try await PostgresConnection.connect(to: try TestPostgres.url())
        let before = CPUTime.now(postmaster: nil)
        for _ in 0..<300 {
            _ = try await connection.query("SELECT string_agg(md5(g::text), '') FROM generate_series(1, 200) g")
        }
        // Read while the connection is open: its thread ends with it.
        let used = CPUTime.now(postmaster: nil) - before
        let names = (try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")).compactMap { task in
            try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        await connection.close()
        #expect(names.contains("skald-postgres"), "the connection's thread carries its name for the system: \(Set(names))")
        #expect(used.postgresConnections > 0, "300 queries ran libpq on the connection's thread")
        #expect(used.postgresConnections <= used.process * 1.1 + 0.05, "the connections' threads are part of the process")
    }

    @Test("threads are told apart by their system names; others are not counted apart")
    func threadKinds() {
        #expect(CPUTime.ThreadKind(threadName: "rdk:mock") == .kafkaMock)
        #expect(CPUTime.ThreadKind(threadName: "rdk:broker1") == .kafkaClient)
        #expect(CPUTime.ThreadKind(threadName: "rdk:main") == .kafkaClient)
        #expect(CPUTime.ThreadKind(threadName: "skald-postgres") == .postgresConnection)
        #expect(CPUTime.ThreadKind(threadName: "skald-listen") == nil)
        #expect(CPUTime.ThreadKind(threadName: "skald-producer") == nil)
        #expect(CPUTime.ThreadKind(threadName: "oot.default-qos") == nil)
    }

    @Test("the Postgres line gives the connections' share per unit and says nothing when none ran")
    func postgresLine() {
        let spent = CPUTime(process: 1, postgres: 0.5, postgresConnections: 0.0042)
        #expect(
            spent.postgresLine(per: 10, unit: "saga")
                == "of which on Postgres connections' threads: 420 µs (libpq, and the work isolated to a connection), per saga")
        #expect(CPUTime(process: 1, postgres: 0.5).postgresLine(per: 10, unit: "saga") == nil)
        #expect(spent.postgresLine(per: 0, unit: "saga") == nil)
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
