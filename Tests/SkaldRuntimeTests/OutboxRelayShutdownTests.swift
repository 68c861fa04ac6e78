import Foundation
import Logging
import MetricsTestKit
import ServiceLifecycle
import Skald
import SkaldKafka
import SkaldPostgres
@testable import SkaldRuntime
import SkaldTestSupport
import Testing

/// A graceful stop publishes what was committed before it, unless Kafka is not taking messages.
@Suite("Outbox relay: the last round at a graceful stop")
struct OutboxRelayShutdownTests {
    /// Queues one command of `size` payload bytes (no NOTIFY: only a round wakes the relay).
    static func queue(_ id: String, size: Int, url: String) async throws {
        let envelope = MessageEnvelope(id: id, source: "skald/Transfer", type: "Debit", sagaId: "Transfer-\(id)")
        var rows = OutboxRows()
        rows.append(
            messageId: id, sagaId: "Transfer-\(id)", topic: TransferTopics.all[0], key: id, envelope: envelope,
            payload: Array(#"{"filler": "\#(String(repeating: "x", count: size))"}"#.utf8))
        let connection = try await PostgresConnection.connect(to: url)
        try await connection.query(rows.statement)
        await connection.close()
    }

    /// Runs a relay that looks only when woken (an hour between polls) in a service group,
    /// `whileRunning` once its first round is done, then stops it gracefully.
    static func runRelay(
        url: String, kafka: KafkaConfiguration, metrics: TestMetrics, stopGrace: Duration = .seconds(5),
        firstRound: @escaping @Sendable () async throws -> Bool,
        whileRunning: (OutboxRelay) async throws -> Void
    ) async throws {
        let pool = PostgresPool(url: url, minimumConnections: 1, maximumConnections: 2)
        let producer = try KafkaProducer(configuration: kafka, logger: runtimeTestLogger)
        let relay = OutboxRelay(
            postgresURL: url, pool: pool, producer: producer, pollInterval: .seconds(3600), stopGrace: stopGrace,
            metrics: OrchestratorMetrics(factory: metrics), logger: runtimeTestLogger)
        let running = RunningServices([relay])
        try await eventually("the relay's first round", condition: firstRound)
        try await whileRunning(relay)
        // A stop stuck on an undeliverable round fails the test rather than hanging it.
        try await running.stop()
        await producer.shutdown()
        await pool.close()
    }

    @Test("rows committed after the last round leave in one more round at the stop")
    func lastRoundPublishes() async throws {
        let url = try await TestPostgres.freshStore("relaystop")
        let cluster = try transferCluster()
        defer { cluster.shutdown() }
        try await Self.queue("first", size: 10, url: url)
        let metrics = TestMetrics()
        try await Self.runRelay(
            url: url, kafka: mockKafka(cluster), metrics: metrics,
            firstRound: { try await TestPostgres.count(url, "SELECT count(*)::bigint FROM outbox") == 0 },
            whileRunning: { _ in try await Self.queue("second", size: 10, url: url) })
        #expect(try await TestPostgres.count(url, "SELECT count(*)::bigint FROM outbox") == 0, "the stop's round sent it")
        #expect(try metrics.expectCounter("skald_outbox_published_total").totalValue == 2)
    }

    @Test("after a round Kafka did not take, the stop does not try again: the row stays for the next relay")
    func noLastRoundAfterAFailure() async throws {
        let url = try await TestPostgres.freshStore("relaystop")
        let cluster = try transferCluster()
        defer { cluster.shutdown() }
        // Larger than the producer may send: it fails at once, every time, as if Kafka were gone
        // (where each try would wait out message.timeout.ms instead).
        try await Self.queue("too-large", size: 4_000, url: url)
        var kafka = mockKafka(cluster)
        kafka["message.max.bytes"] = "1000"
        let metrics = TestMetrics()
        try await Self.runRelay(
            url: url, kafka: kafka, metrics: metrics,
            firstRound: { (try? metrics.expectCounter("skald_outbox_publish_failures_total").totalValue) == 1 },
            whileRunning: { _ in })
        #expect(try metrics.expectCounter("skald_outbox_publish_failures_total").totalValue == 1, "one round, not two")
        #expect(try await TestPostgres.count(url, "SELECT count(*)::bigint FROM outbox") == 1)
    }

    // The stop's own 60 s guard catches a stop that waits for the broker; the time limit is only
    // the last resort, and a full run of the suite on two cores took this test 91 s once and
    // past 120 s in another, with a demo building beside it (session 30).
    @Test(
        "a stop while Kafka is unreachable gives up on the round in flight after the grace; its row stays",
        .timeLimit(.minutes(5)))
    func stopWhileKafkaIsDown() async throws {
        let url = try await TestPostgres.freshStore("relaystop")
        let cluster = try transferCluster()
        defer { cluster.shutdown() }
        try await Self.queue("first", size: 10, url: url)
        var kafka = mockKafka(cluster)
        // Without the grace, the stop would wait this long for the broker: past the stop's 60 s guard.
        kafka.messageTimeout = .seconds(600)
        let metrics = TestMetrics()
        try await Self.runRelay(
            url: url, kafka: kafka, metrics: metrics, stopGrace: .seconds(1),
            firstRound: { try await TestPostgres.count(url, "SELECT count(*)::bigint FROM outbox") == 0 },
            whileRunning: { relay in
                try cluster.setBrokerDown(1)
                try await Self.queue("stuck", size: 10, url: url)
                relay.wake()
                // Either way the stop finds a round waiting on the broker: this one, or the
                // stop's last round, which reads the row again.
                try await Task.sleep(for: .milliseconds(300))
            })
        #expect(try await TestPostgres.count(url, "SELECT count(*)::bigint FROM outbox") == 1, "the row stays for the next relay")
        #expect(try metrics.expectCounter("skald_outbox_publish_failures_total").totalValue == 1)
        #expect(try metrics.expectCounter("skald_outbox_published_total").totalValue == 1, "only the first row")
    }
}
