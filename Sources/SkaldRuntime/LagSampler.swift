import Logging
import Metrics
import SkaldKafka
import SkaldPostgres
import Synchronization

/// Reads the levels an operator watches into gauges: messages waiting in the orchestrator's
/// partitions (consumer lag), commands waiting in the outbox (how many, and how long the
/// oldest has waited), and sagas that are stuck.
///
/// Both are levels, not events, so they are read rather than counted: a growing consumer lag
/// says the pump falls behind its topics; a growing outbox age says the relay cannot publish
/// (Kafka down, a participant's circuit open). They are read when someone looks, on each
/// scrape of `/metrics` (``Orchestrator/sampleLag()``), at most once a second: an
/// orchestrator nobody scrapes spends nothing on them.
final class LagSampler: Sendable {
    let pool: PostgresPool
    let consumer: KafkaConsumer
    let metrics: OrchestratorMetrics
    let logger: Logger
    /// Scrapes closer together than this share one sample.
    let minimumInterval: Duration
    /// The saga types whose stuck gauges are set, to 0 when none is stuck (so an alert has a series).
    let sagaTypes: [String]
    /// How long a running saga must be quiet to count as stuck.
    let stuckAfter: Duration

    private struct State {
        var reportedTopics: Set<String> = []
        var last: ContinuousClock.Instant?
        var running: Task<Void, Never>?
    }

    private let state = Mutex(State())

    init(
        pool: PostgresPool, consumer: KafkaConsumer, metrics: OrchestratorMetrics, logger: Logger,
        minimumInterval: Duration = .seconds(1), sagaTypes: [String] = [], stuckAfter: Duration = .seconds(300)
    ) {
        self.sagaTypes = sagaTypes
        self.stuckAfter = stuckAfter
        self.pool = pool
        self.consumer = consumer
        self.metrics = metrics
        self.logger = logger
        self.minimumInterval = minimumInterval
    }

    /// Sets every lag gauge, unless a sample ended less than ``minimumInterval`` ago; a
    /// caller that arrives while one runs waits for that one.
    func sample() async {
        let task = state.withLock { state -> Task<Void, Never>? in
            if let running = state.running { return running }
            if let last = state.last, ContinuousClock.now - last < minimumInterval { return nil }
            // Created under the lock: the task's own bookkeeping below waits for this assignment.
            let task = Task {
                let reported = self.state.withLock { $0.reportedTopics }
                let topics = await self.sampleConsumerLag(reportedTopics: reported)
                do {
                    try await self.sampleOutbox()
                } catch {
                    self.logger.debug("outbox lag not sampled", metadata: ["error": "\(error)"])
                }
                do {
                    try await self.sampleStuck()
                } catch {
                    self.logger.debug("stuck sagas not counted", metadata: ["error": "\(error)"])
                }
                self.state.withLock { state in
                    state.reportedTopics = topics
                    state.last = .now
                    state.running = nil
                }
            }
            state.running = task
            return task
        }
        await task?.value
    }

    /// Sets each consumed topic's lag gauge (summed over this process's partitions of it);
    /// a topic this process no longer owns a partition of goes to zero, since its lag is
    /// another instance's to report now. A topic whose brokers did not answer in time keeps
    /// its last value. Returns the topics to remember for the next sample.
    func sampleConsumerLag(reportedTopics: Set<String>) async -> Set<String> {
        let partitions = await consumer.lag(timeout: .seconds(2))
        let owned = Set(consumer.assignment.map(\.topic))
        var byTopic: [String: Int64] = [:]
        for (partition, lag) in partitions { byTopic[partition.topic, default: 0] += lag }
        for (topic, lag) in byTopic { metrics.consumerLag(topic: topic, messages: lag) }
        for topic in reportedTopics where !owned.contains(topic) { metrics.consumerLag(topic: topic, messages: 0) }
        return reportedTopics.intersection(owned).union(byTopic.keys)
    }

    /// Sets the outbox gauges from one statement: the rows waiting and the oldest one's age
    /// by Postgres's clock (the clock that stamped it).
    func sampleOutbox() async throws {
        let rows = try await pool.withConnection { connection in
            try await connection.query(
                """
                SELECT (SELECT count(*) FROM outbox)::bigint,
                       coalesce((SELECT extract(epoch FROM now() - created_at) FROM outbox ORDER BY id LIMIT 1), 0)::float8
                """)
        }
        guard let row = rows.first else { return }
        metrics.outboxPendingRows.record(try row.decode(Int.self, at: 0))
        metrics.outboxLag.record(max(0, try row.decode(Double.self, at: 1)))
    }

    /// Sets the stuck gauges of every registered saga type (and of any other type found stuck)
    /// from one statement over `sagas_by_status`.
    func sampleStuck() async throws {
        let rows = try await pool.withConnection { connection in
            try await connection.query(
                PostgresQuery(
                    """
                    SELECT saga_type, count(*)::bigint, count(*) FILTER (WHERE status = 'failed_needs_operator')::bigint
                    FROM sagas WHERE \(SagaQueries.stuck(quietSeconds: "$1")) GROUP BY saga_type
                    """, [PostgresValue(SagaQueries.seconds(stuckAfter))]))
        }
        var counts = Dictionary(uniqueKeysWithValues: sagaTypes.map { ($0, (stuck: 0, waiting: 0)) })
        for row in rows {
            counts[try row.decode(String.self, at: 0)] = (try row.decode(Int.self, at: 1), try row.decode(Int.self, at: 2))
        }
        for (type, count) in counts { metrics.stuckSagas(type: type, stuck: count.stuck, waitingForOperator: count.waiting) }
    }
}
