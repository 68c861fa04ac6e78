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
    private let breakers: ParticipantBreakers?
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
        breakers: ParticipantBreakers? = nil,
        afterCommit: @escaping @Sendable (Bool) -> Void = { _ in }
    ) {
        self.breakers = breakers
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

    /// Deletes (claims) up to a batch of due timers, with their sagas locked first.
    ///
    /// The pump locks a saga's row and then deletes its cancelled timers; taking timer rows
    /// first here made the two wait for each other in a cycle now and then (Postgres broke
    /// the deadlock after a second and the batch was retried). So the sagas are locked
    /// first, with `SKIP LOCKED`: a saga that a pump batch or another timer service holds is
    /// left for later, and since row locking happens below the `LIMIT`, skipped rows do not
    /// use up the batch — each instance claims different sagas. Holding a saga's lock, nobody
    /// else can delete its timers: one that is gone by the `DELETE` was cancelled or fired by
    /// someone else, and is simply not returned.
    private func claimDue(now: Date, on connection: PostgresConnection) async throws -> PostgresRows {
        let due = try await connection.query(
            """
            SELECT t.timer_id FROM timers t JOIN sagas s ON s.saga_id = t.saga_id
            WHERE t.due_at <= \(now) ORDER BY t.due_at LIMIT \(batchSize)
            FOR UPDATE OF s SKIP LOCKED
            """
        )
        let timerIds = try due.map { try $0.decode(String.self, at: 0) }
        return try await connection.query(
            """
            DELETE FROM timers
            WHERE timer_id IN (SELECT json_array_elements_text(\(JSONRecords.array(timerIds))::json)) AND due_at <= \(now)
            RETURNING timer_id, saga_id, kind, step, attempt, saga_type
            """
        )
    }

    /// How long a timeout whose command has not left the outbox yet is put off (seconds).
    static let postponement: TimeInterval = 1

    /// Fires the timers due at `now` (one batch); returns how many fired.
    @discardableResult
    public func fireDue(now: Date) async throws -> Int {
        var timedOutSteps: [(sagaType: String, step: String)] = []
        let result = try await pool.withConnection { connection in
            try await self.processor.process(on: connection, now: now) { connection in
                timedOutSteps = []
                let rows = try await self.claimDue(now: now, on: connection)
                // A timeout only counts from when its command actually left: a command still
                // waiting in the outbox (its participant's circuit is open, or the relay is
                // behind) has its timeout put off instead of fired.
                var awaitedCommands: [String] = []
                for row in rows {
                    let sagaId = try row.decode(String.self, at: 1)
                    if let step = try row.decode(String?.self, at: 3), let attempt = try row.decode(Int?.self, at: 4) {
                        switch try row.decode(String.self, at: 2) {
                        case "step-timeout":
                            awaitedCommands.append(OutgoingCommand.id(sagaId: sagaId, step: step, purpose: .action, attempt: attempt))
                        case "compensation-timeout":
                            awaitedCommands.append(OutgoingCommand.id(sagaId: sagaId, step: step, purpose: .compensation, attempt: attempt))
                        default:
                            break
                        }
                    }
                }
                var unsent: Set<String> = []
                if !awaitedCommands.isEmpty {
                    let pending = try await connection.query(
                        "SELECT message_id FROM outbox WHERE message_id IN (SELECT jsonb_array_elements_text(\(JSONRecords.array(awaitedCommands))::jsonb))"
                    )
                    for row in pending { unsent.insert(try row.decode(String.self, at: 0)) }
                }
                var postponed = JSONRecords()
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
                    let commandId: String? =
                        switch kind {
                        case .stepTimeout(let step, let attempt):
                            OutgoingCommand.id(sagaId: sagaId, step: step, purpose: .action, attempt: attempt)
                        case .compensationTimeout(let step, let attempt):
                            OutgoingCommand.id(sagaId: sagaId, step: step, purpose: .compensation, attempt: attempt)
                        default: nil
                        }
                    if let commandId, unsent.contains(commandId) {
                        postponed.beginRecord()
                        postponed.field("timer_id", timerId)
                        postponed.field("saga_id", sagaId)
                        postponed.field("saga_type", try row.decode(String.self, at: 5))
                        postponed.field("kind", name)
                        postponed.field("step", kind.step)
                        postponed.field("attempt", kind.attempt)
                        postponed.field("due_at", Timestamp.format(now.addingTimeInterval(Self.postponement)))
                        postponed.endRecord()
                        continue
                    }
                    if case .stepTimeout(let step, _) = kind {
                        timedOutSteps.append((try row.decode(String.self, at: 5), step))
                    }
                    work.append(SagaWork(target: .saga(id: sagaId), input: .timer(kind), inboxId: nil, source: "timer"))
                }
                if postponed.count > 0 {
                    _ = try await connection.query(
                        """
                        INSERT INTO timers (timer_id, saga_id, saga_type, kind, step, attempt, due_at)
                        SELECT x.timer_id, x.saga_id, x.saga_type, x.kind, x.step, x.attempt, x.due_at
                        FROM jsonb_to_recordset(\(postponed.text)::jsonb) AS x(
                            timer_id text, saga_id text, saga_type text, kind text, step text, attempt integer,
                            due_at timestamptz)
                        ON CONFLICT (timer_id) DO NOTHING
                        """
                    )
                }
                return work
            }
        }
        if !result.work.isEmpty {
            metrics.timersFired.increment(by: result.work.count)
            afterCommit(result.wroteCommands)
        }
        if let breakers {
            for (sagaType, step) in timedOutSteps {
                if let topic = (try? processor.registry.latest(name: sagaType))?.commandTopic(ofStep: step) {
                    breakers.recordTimeout(topic: topic)
                }
            }
        }
        return result.work.count
    }
}
