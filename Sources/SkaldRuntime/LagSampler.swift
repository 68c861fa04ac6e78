import Logging
import Metrics
import ServiceLifecycle
import SkaldKafka
import SkaldPostgres

/// Samples the two backlogs an operator watches, every interval, into gauges: messages
/// waiting in the orchestrator's partitions (consumer lag), and commands waiting in the
/// outbox (how many, and how long the oldest has waited).
///
/// Both are levels, not events, so they are sampled rather than counted: a growing consumer
/// lag says the pump falls behind its topics; a growing outbox age says the relay cannot
/// publish (Kafka down, a participant's circuit open).
struct LagSampler: Sendable {
    let pool: PostgresPool
    let consumer: KafkaConsumer
    let metrics: OrchestratorMetrics
    let interval: Duration
    let logger: Logger

    /// Samples once per interval until graceful shutdown; a failed sample is logged and skipped.
    func run() async {
        await cancelWhenGracefulShutdown {
            var reportedTopics: Set<String> = []
            while !Task.isCancelled {
                reportedTopics = await sampleConsumerLag(reportedTopics: reportedTopics)
                do {
                    try await sampleOutbox()
                } catch is CancellationError {
                    return
                } catch {
                    logger.debug("outbox lag not sampled", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: interval)
            }
        }
    }

    /// Sets each consumed topic's lag gauge (summed over this process's partitions of it);
    /// a topic this process no longer owns a partition of goes to zero, since its lag is
    /// another instance's to report now. A topic whose brokers did not answer in time keeps
    /// its last value. Returns the topics to remember for the next sample.
    func sampleConsumerLag(reportedTopics: Set<String>) async -> Set<String> {
        let partitions = await consumer.lag(timeout: min(interval, .seconds(2)))
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
}
