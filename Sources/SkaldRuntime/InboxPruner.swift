public import Logging
import Metrics
public import ServiceLifecycle
public import SkaldPostgres

/// Deletes inbox rows older than a retention period, so the inbox does not grow forever.
///
/// The inbox holds the id of every message ever applied: one row per saga transition, about
/// 860 million a day at 10,000 transitions per second. A row is only needed while its
/// message could still arrive again, which Kafka bounds for topics that delete old data:
/// a log segment goes once its newest message is older than `retention.ms`, so a message
/// stays readable for up to `retention.ms + segment.ms` (14 days with Kafka's defaults),
/// and a consumer group that lost its offsets (`offsets.retention.minutes`) and starts from
/// the earliest offset reads all of that again. So the retention must be at least
/// `retention.ms + segment.ms` of every topic consumed; the default is 14 days. Compacted
/// topics keep messages without a time bound: consuming one, keep ids forever (no pruner).
///
/// Each round deletes up to a batch of the oldest expired rows, locking them with
/// `SKIP LOCKED`, so several instances prune side by side without waiting for each other and
/// a round never holds many locks for long. The cutoff is Postgres's clock, the clock that
/// stamped `received_at`.
public final class InboxPruner: Service {
    private let pool: PostgresPool
    private let retention: Duration
    private let interval: Duration
    private let batchSize: Int
    private let pruned: Counter
    private let logger: Logger

    /// Creates the pruner.
    ///
    /// - Parameters:
    ///   - pool: connections whose search path holds the `inbox` table to prune.
    ///   - retention: how long a message id is kept after its message was applied; positive.
    ///   - interval: the pause between rounds once nothing more has expired; positive.
    ///   - batchSize: rows deleted per statement.
    ///   - owner: names the inbox in the `skald_inbox_pruned_total` counter (`orchestrator`, a service name).
    /// - Throws: ``SagaRuntimeError`` when `retention` or `interval` is not positive.
    public init(
        pool: PostgresPool,
        retention: Duration,
        interval: Duration = .seconds(60),
        batchSize: Int = 10_000,
        owner: String = "orchestrator",
        logger: Logger = Logger(label: "skald.inbox")
    ) throws {
        guard retention > .zero else {
            throw SagaRuntimeError("the inbox retention must be positive, got \(retention)")
        }
        guard interval > .zero else {
            throw SagaRuntimeError("the inbox pruning interval must be positive, got \(interval)")
        }
        self.pool = pool
        self.retention = retention
        self.interval = interval
        self.batchSize = max(1, batchSize)
        self.pruned = Counter(label: "skald_inbox_pruned_total", dimensions: [("inbox", owner)])
        self.logger = logger
    }

    /// Prunes once per interval until graceful shutdown; a failed round is logged and retried.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await self.pruneExpired()
                } catch is CancellationError {
                    return
                } catch {
                    self.logger.warning("inbox pruning failed; retrying", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: self.interval)
            }
        }
    }

    /// Deletes every expired row, a batch per statement; returns how many.
    @discardableResult
    public func pruneExpired() async throws -> Int {
        var total = 0
        while !Task.isCancelled {
            let deleted = try await pruneBatch()
            total += deleted
            if deleted < batchSize { break }
        }
        if total > 0 { logger.debug("inbox pruned", metadata: ["rows": "\(total)"]) }
        return total
    }

    /// Deletes up to one batch of the oldest expired rows; returns how many.
    public func pruneBatch() async throws -> Int {
        let components = retention.components
        let seconds = Double(components.seconds) + Double(components.attoseconds) / 1e18
        let deleted = try await pool.withConnection { connection in
            try await connection.query(
                """
                DELETE FROM inbox WHERE message_id IN (
                    SELECT message_id FROM inbox WHERE received_at < now() - make_interval(secs => \(seconds))
                    ORDER BY received_at LIMIT \(batchSize) FOR UPDATE SKIP LOCKED)
                """
            ).affectedRows
        }
        if deleted > 0 { pruned.increment(by: deleted) }
        return deleted
    }
}
