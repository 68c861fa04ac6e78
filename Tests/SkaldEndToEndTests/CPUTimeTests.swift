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
        #expect(used.kafkaPoll > 0, "the producer's poll thread, named for the system, served the delivery reports")
        // Threads are read in nanoseconds, the process in 10 ms ticks: allow for the rounding.
        #expect(used.kafkaMock + used.kafkaClients <= used.process * 1.1 + 0.05, "librdkafka's threads are part of the process")
    }

    @Test("queries on a connection show up as the Postgres connections' threads, named so for the system, within the process's CPU")
    func postgresThreadsAreCounted() async throws {
        let before = try Self.threadIds(named: "skald-postgres")
        let connection = try await PostgresConnection.connect(to: try TestPostgres.url())
        // Other suites open and close connections meanwhile: a thread new since `before` that is
        // there while this connection is open is either this one's or another's, and named
        // either way; with the naming broken there would be none.
        let opened = try Self.threadIds(named: "skald-postgres").subtracting(before)
        let start = CPUTime.now(postmaster: nil)
        for _ in 0..<300 {
            _ = try await connection.query("SELECT string_agg(md5(g::text), '') FROM generate_series(1, 200) g")
        }
        // Read while the connection is open: its thread ends with it.
        let used = CPUTime.now(postmaster: nil) - start
        await connection.close()
        #expect(!opened.isEmpty, "the new connection's thread carries its name for the system")
        #expect(used.postgresConnections > 0, "300 queries ran libpq on the connection's thread")
        #expect(used.postgresConnections <= used.process * 1.1 + 0.05, "the connections' threads are part of the process")
    }

    @Test("a difference counts a thread from the first reading, a thread started since from zero, and leaves out a thread that ended")
    func differenceByThread() {
        let earlier = CPUTime(
            process: 10, postgres: 4,
            threads: [
                1: .init(kind: .kafkaMock, seconds: 4), 2: .init(kind: .kafkaClient, seconds: 1),
                4: .init(kind: .postgresConnection, seconds: 9),
            ])
        let later = CPUTime(
            process: 20, postgres: 7,
            threads: [
                1: .init(kind: .kafkaMock, seconds: 5), 2: .init(kind: .kafkaClient, seconds: 3),
                3: .init(kind: .postgresConnection, seconds: 2), 5: .init(kind: .kafkaPoll, seconds: 0.5),
            ])
        let spent = later - earlier
        #expect(spent.process == 10)
        #expect(spent.postgres == 3)
        #expect(spent.kafkaMock == 1)
        #expect(spent.kafkaClients == 2)
        #expect(spent.kafkaPoll == 0.5)
        #expect(spent.postgresConnections == 2, "thread 3 from its start; thread 4, gone, not at all")
    }

    /// Ids of this process's threads whose system name is `name`.
    private static func threadIds(named name: String) throws -> Set<String> {
        Set(
            try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").filter { task in
                (try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8))?
                    .trimmingCharacters(in: .whitespacesAndNewlines) == name
            })
    }

    @Test("threads are told apart by their system names; others are not counted apart")
    func threadKinds() {
        #expect(CPUTime.ThreadKind(threadName: "rdk:mock") == .kafkaMock)
        #expect(CPUTime.ThreadKind(threadName: "rdk:broker1") == .kafkaClient)
        #expect(CPUTime.ThreadKind(threadName: "rdk:main") == .kafkaClient)
        #expect(CPUTime.ThreadKind(threadName: "skald-postgres") == .postgresConnection)
        #expect(CPUTime.ThreadKind(threadName: "skald-listen") == nil)
        #expect(CPUTime.ThreadKind(threadName: "skald-producer") == nil)
        #expect(CPUTime.ThreadKind(threadName: "skald-poll-p") == .kafkaPoll)
        #expect(CPUTime.ThreadKind(threadName: "skald-poll-c") == .kafkaPoll)
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
        let withPolls = CPUTime(process: 1, postgres: 0, kafkaMock: 0.001, kafkaClients: 0.002, kafkaPoll: 0.0005)
        #expect(
            withPolls.kafkaLine(per: 10, unit: "saga")
                == "of which Kafka: 100 µs the mock broker's thread, 200 µs librdkafka's client threads, 50 µs the clients' poll threads, per saga")
        let realBroker = CPUTime(process: 1, postgres: 0, kafkaMock: 0, kafkaClients: 0.003)
        #expect(realBroker.kafkaLine(per: 1_000, unit: "transition") == "of which Kafka: 3 µs librdkafka's client threads, per transition")
        #expect(CPUTime(process: 1, postgres: 0).kafkaLine(per: 10, unit: "saga") == nil)
        #expect(withMock.kafkaLine(per: 0, unit: "saga") == nil)
    }
}
