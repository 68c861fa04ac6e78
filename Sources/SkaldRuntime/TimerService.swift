public import Foundation
public import Logging
public import ServiceLifecycle
import Skald
public import SkaldPostgres

/// Fires durable timers — step timeouts, retry backoffs, saga deadlines — exactly once.
///
/// Due timers are deleted with `FOR UPDATE SKIP LOCKED` inside the same transaction
/// that applies them to their sagas, so across any number of orchestrator processes
/// each timer fires once, and a crash before the commit leaves it armed for the next
/// round. Timers survive restarts because they are rows.
public final class TimerService: Service {
    private let pool: PostgresPool
    private let processor: SagaProcessor
    private let batchSize: Int
    private let pollInterval: Duration
    private let afterCommit: @Sendable (Bool) -> Void
    private let metrics: OrchestratorMetrics
    private let logger: Logger

    /// Creates the service.
    ///
    /// - Parameters:
    ///   - pollInterval: how often it looks for due timers: the worst-case lateness of a timer.
    ///   - afterCommit: called after each round that fired timers, with whether it wrote commands.
    public init(
        pool: PostgresPool,
        processor: SagaProcessor,
        batchSize: Int = 500,
        pollInterval: Duration = .milliseconds(100),
        metrics: OrchestratorMetrics = OrchestratorMetrics(),
        logger: Logger = Logger(label: "skald.timers"),
        afterCommit: @escaping @Sendable (Bool) -> Void = { _ in }
    ) {
        self.pool = pool
        self.processor = processor
        self.batchSize = max(1, batchSize)
        self.pollInterval = pollInterval
        self.metrics = metrics
        self.logger = logger
        self.afterCommit = afterCommit
    }

    /// Fires timers until graceful shutdown.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                var fired = 0
                do {
                    fired = try await self.fireDue(now: Date())
                } catch {
                    self.logger.warning("timer round failed; retrying", metadata: ["error": "\(error)"])
                }
                if fired < self.batchSize {
                    try? await Task.sleep(for: self.pollInterval)
                }
            }
        }
    }

    /// Fires the timers due at `now` (one batch); returns how many fired.
    @discardableResult
    public func fireDue(now: Date) async throws -> Int {
        let result = try await pool.withConnection { connection in
            try await self.processor.process(on: connection, now: now) { connection in
                let rows = try await connection.query(
                    """
                    DELETE FROM timers WHERE timer_id IN (
                        SELECT timer_id FROM timers WHERE due_at <= \(now)
                        ORDER BY due_at LIMIT \(self.batchSize) FOR UPDATE SKIP LOCKED)
                    RETURNING timer_id, saga_id, kind, step, attempt
                    """
                )
                var work: [SagaWork] = []
                for row in rows {
                    let timerId = try row.decode(String.self, at: 0)
                    let sagaId = try row.decode(String.self, at: 1)
                    let name = try row.decode(String.self, at: 2)
                    guard
                        let kind = TimerKind(
                            name: name,
                            step: try row.decode(String?.self, at: 3),
                            attempt: try row.decode(Int?.self, at: 4)
                        )
                    else {
                        self.logger.error("dropping a timer of unknown kind", metadata: ["timer": "\(timerId)", "kind": "\(name)"])
                        continue
                    }
                    work.append(SagaWork(target: .saga(id: sagaId), input: .timer(kind), inboxId: nil, source: "timer"))
                }
                return work
            }
        }
        if !result.work.isEmpty {
            metrics.timersFired.increment(by: result.work.count)
            afterCommit(result.wroteCommands)
        }
        return result.work.count
    }
}
