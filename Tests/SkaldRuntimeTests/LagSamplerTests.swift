import Foundation
import MetricsTestKit
import Skald
import SkaldKafka
import SkaldPostgres
@testable import SkaldRuntime
import SkaldTestSupport
import Synchronization
import Testing

/// The sampled gauges: consumer lag per topic, and the outbox's backlog and age.
@Suite("Lag sampler: consumer lag and outbox backlog gauges")
struct LagSamplerTests {
    /// A sampler over a new consumer of topic `lagged` (a group of its own) and a pool on `url`.
    private static func sampler(
        url: String, cluster: MockCluster, minimumInterval: Duration = .seconds(1), sagaTypes: [String] = []
    ) throws -> (LagSampler, KafkaConsumer, PostgresPool, TestMetrics) {
        var kafka = mockKafka(cluster)
        kafka.groupID = "lag-\(UUID().uuidString.prefix(8))"
        let consumer = try KafkaConsumer(configuration: kafka, topics: ["lagged"], logger: runtimeTestLogger)
        let pool = PostgresPool(url: url, maximumConnections: 1)
        let metrics = TestMetrics()
        let sampler = LagSampler(
            pool: pool, consumer: consumer, metrics: OrchestratorMetrics(factory: metrics), logger: runtimeTestLogger,
            minimumInterval: minimumInterval, sagaTypes: sagaTypes, stuckAfter: .seconds(300))
        return (sampler, consumer, pool, metrics)
    }

    @Test("the stuck gauges count, per type, sagas waiting for an operator and running ones quiet for stuckAfter; a registered type with none is zero")
    func stuckGauges() async throws {
        let url = try await TestPostgres.freshStore("stuck")
        let cluster = try MockCluster(brokers: 1)
        defer { cluster.shutdown() }
        let (sampler, consumer, pool, metrics) = try Self.sampler(url: url, cluster: cluster, sagaTypes: ["Transfer", "Quiet"])
        let connection = try await PostgresConnection.connect(to: url)
        for (id, type, status, quietMinutes) in [
            ("a", "Transfer", "failed_needs_operator", 0), ("b", "Transfer", "running", 10), ("c", "Transfer", "compensating", 6),
            ("d", "Transfer", "running", 1), ("e", "Transfer", "completed", 60), ("f", "Legacy", "running", 30),
        ] {
            _ = try await connection.execute(
                """
                INSERT INTO sagas (saga_id, saga_type, definition_version, status, state, steps, last_sequence, created_at, updated_at)
                VALUES (\(id), \(type), 1, \(status), '{}', '[]', 1, now() - interval '1 hour', now() - make_interval(mins => \(quietMinutes)::int))
                """)
        }
        await connection.close()
        try await sampler.sampleStuck()
        #expect(try metrics.expectGauge("skald_sagas_stuck", [("saga_type", "Transfer")]).lastValue == 3)
        #expect(try metrics.expectGauge("skald_sagas_waiting_for_operator", [("saga_type", "Transfer")]).lastValue == 1)
        #expect(try metrics.expectGauge("skald_sagas_stuck", [("saga_type", "Quiet")]).lastValue == 0, "registered, none stuck")
        #expect(try metrics.expectGauge("skald_sagas_stuck", [("saga_type", "Legacy")]).lastValue == 1, "found stuck, though not registered")
        try await consumer.close()
        await pool.close()
    }

    @Test("the outbox gauges count waiting commands and age the oldest by Postgres's clock; an empty outbox is zero")
    func outboxGauges() async throws {
        let url = try await TestPostgres.freshStore("lag")
        let cluster = try MockCluster(brokers: 1)
        defer { cluster.shutdown() }
        try cluster.createTopic("lagged", partitions: 1)
        let (sampler, consumer, pool, metrics) = try Self.sampler(url: url, cluster: cluster)

        try await sampler.sampleOutbox()
        #expect(try metrics.expectGauge("skald_outbox_pending_rows").lastValue == 0)
        #expect(try metrics.expectGauge("skald_outbox_lag_seconds").lastValue == 0)

        // Three commands the relay has not published: the oldest waited 42 s, the others less.
        try await pool.withConnection { connection in
            for (index, age) in [42, 10, 1].enumerated() {
                _ = try await connection.execute(
                    """
                    INSERT INTO outbox (lane, message_id, saga_id, topic, message_key, headers, payload, created_at)
                    VALUES (0, \("m\(index)"), 's', 't', 'k', '{}', '{}', now() - make_interval(secs => \(Double(age))))
                    """)
            }
        }
        try await sampler.sampleOutbox()
        #expect(try metrics.expectGauge("skald_outbox_pending_rows").lastValue == 3)
        let lag = try #require(try metrics.expectGauge("skald_outbox_lag_seconds").lastValue)
        #expect(lag >= 42 && lag < 60, "the oldest row's age: \(lag)")
        try await consumer.close()
        await pool.close()
    }

    @Test("scrapes less than the minimum interval apart share one reading; later ones read again")
    func samplesAreThrottled() async throws {
        let url = try await TestPostgres.freshStore("lag")
        let cluster = try MockCluster(brokers: 1)
        defer { cluster.shutdown() }
        try cluster.createTopic("lagged", partitions: 1)
        let (sampler, consumer, pool, metrics) = try Self.sampler(url: url, cluster: cluster, minimumInterval: .milliseconds(300))
        let insert: (String) async throws -> Void = { id in
            try await pool.withConnection { connection in
                _ = try await connection.execute(
                    "INSERT INTO outbox (lane, message_id, saga_id, topic, message_key, headers, payload) VALUES (0, \(id), 's', 't', 'k', '{}', '{}')")
            }
        }
        await sampler.sample()
        #expect(try metrics.expectGauge("skald_outbox_pending_rows").lastValue == 0)
        try await insert("a")
        await sampler.sample()
        #expect(try metrics.expectGauge("skald_outbox_pending_rows").lastValue == 0, "read again within the interval")
        try await Task.sleep(for: .milliseconds(400))
        await sampler.sample()
        #expect(try metrics.expectGauge("skald_outbox_pending_rows").lastValue == 1)
        try await consumer.close()
        await pool.close()
    }

    @Test("consumer lag is summed per topic over the partitions owned, and a topic no longer owned drops to zero")
    func consumerLagGauges() async throws {
        let url = try await TestPostgres.freshStore("lag")
        let cluster = try MockCluster(brokers: 1)
        defer { cluster.shutdown() }
        try cluster.createTopic("lagged", partitions: 2)
        let producer = try KafkaProducer(configuration: mockKafka(cluster), logger: runtimeTestLogger)
        let messages = (0..<10).map { KafkaOutgoingMessage(topic: "lagged", partition: Int32($0 % 2), key: "k", value: "\($0)") }
        for report in try await producer.send(messages) { _ = try report.get() }
        await producer.shutdown()

        let (sampler, consumer, pool, metrics) = try Self.sampler(url: url, cluster: cluster)
        var received: [KafkaMessage] = []
        while received.count < 10, let batch = try await consumer.nextBatch(maxCount: 100) { received += batch }
        let deadline = ContinuousClock.now + .seconds(30)
        while consumer.assignment.count < 2 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }

        // Two messages processed in each partition: three wait in each, six in the topic.
        try consumer.storeOffsets(for: received.filter { $0.offset < 2 })
        let reported = await sampler.sampleConsumerLag(reportedTopics: ["moved.away"])
        #expect(reported == ["lagged"])
        #expect(try metrics.expectGauge("skald_consumer_lag_messages", [("topic", "lagged")]).lastValue == 6)
        #expect(try metrics.expectGauge("skald_consumer_lag_messages", [("topic", "moved.away")]).lastValue == 0)

        try consumer.storeOffsets(for: received)
        _ = await sampler.sampleConsumerLag(reportedTopics: reported)
        #expect(try metrics.expectGauge("skald_consumer_lag_messages", [("topic", "lagged")]).lastValue == 0)
        try await consumer.close()
        await pool.close()
    }
}

/// `Orchestrator`'s readiness calls, which the admin server's `/ready` asks.
@Suite("Orchestrator readiness")
struct OrchestratorReadinessTests {
    @Test("running, Postgres and Kafka answer while it runs; not running once it stopped")
    func readinessFollowsTheRun() async throws {
        let captured = Mutex<Orchestrator?>(nil)
        try await withTransferSystem { orchestrator, _, _ in
            let deadline = ContinuousClock.now + .seconds(30)
            while !orchestrator.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            #expect(orchestrator.isRunning)
            try await orchestrator.checkPostgres()
            try await orchestrator.checkKafka()
            captured.withLock { $0 = orchestrator }
        }
        // The run has ended when the system is torn down.
        #expect(captured.withLock { $0.map { !$0.isRunning } } == true)
    }

    @Test("a Kafka nobody listens on and a Postgres that refuses fail their checks with the reason")
    func unreachableDependenciesFail() async throws {
        var configuration = OrchestratorConfiguration(
            kafka: KafkaConfiguration(bootstrapServers: "127.0.0.1:1"), postgresURL: "postgres://nobody@127.0.0.1:1/none")
        configuration.inboxRetention = nil
        var registry = SagaRegistry()
        try registry.register(transferSaga())
        let orchestrator = try Orchestrator(registry: registry, configuration: configuration, logger: runtimeTestLogger)
        #expect(!orchestrator.isRunning)
        await #expect(throws: KafkaError.self) { try await orchestrator.checkKafka(timeout: .milliseconds(500)) }
        await #expect(throws: (any Error).self) { try await orchestrator.checkPostgres() }
    }
}
