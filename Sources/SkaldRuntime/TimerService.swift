public import Foundation
public import Logging
public import ServiceLifecycle
import Skald
public import SkaldPostgres

/// Fires durable timers — step timeouts, retry backoffs, saga deadlines — exactly once.
///
/// A saga's armed timers are on its `sagas` row (``PendingTimers``), and a `saga_wakeups`
/// row says when to look at them. Each round locks the sagas whose wake-up came due, with
/// `FOR UPDATE SKIP LOCKED`, takes their due timers off the row and applies them in the same
/// transaction, so across any number of orchestrator processes each timer fires once, and a
/// crash before the commit leaves it armed for the next round. Timers survive restarts
/// because they are rows.
///
/// Timers an earlier version armed in the `timers` table (before `0011_saga_wakeups.sql`)
/// fire from there, the same way, until none is left.
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
                var claimed = 0
                do {
                    claimed = try await self.round(now: Date()).claimed
                } catch {
                    self.logger.warning("timer round failed; retrying", metadata: ["error": "\(error)"])
                }
                if claimed < self.batchSize {
                    try? await Task.sleep(for: self.pollInterval)
                }
            }
        }
    }

    /// How long a timeout whose command has not left the outbox yet is put off (seconds).
    public static let postponement: TimeInterval = 1

    /// Fires the timers due at `now` (one batch); returns how many fired.
    @discardableResult
    public func fireDue(now: Date) async throws -> Int {
        try await round(now: now).fired
    }

    /// A saga whose wake-up came due, locked.
    private struct WokenSaga {
        var sagaId: String
        var sagaType: String
        var version: Int
        var timers: PendingTimers
        /// Each step's phase and attempt, from the snapshot: whether a step timeout still
        /// finds its step waiting (``SagaDefinition`` fires only those; the others change nothing).
        var running: [String: Int]
    }

    /// A step of a snapshot's `steps` column, as far as the timer service reads it.
    private struct StepPhase: Decodable {
        var name: String
        var phase: String
        var attempt: Int
    }

    /// A timer of the `timers` table, deleted (claimed).
    private struct LegacyTimer {
        var timerId: String
        var sagaId: String
        var sagaType: String
        var kindName: String
        var kind: TimerKind?
        /// Its saga's definition version.
        var version: Int
        /// Its saga's running steps and their attempts (``WokenSaga/running``).
        var running: [String: Int]
    }

    /// The running steps of a snapshot's `steps` column, by name, with their attempts. A column
    /// this cannot read only leaves the breakers a timeout uncounted.
    private static func runningSteps(_ steps: String?) -> [String: Int] {
        var running: [String: Int] = [:]
        if let steps, let phases = try? SkaldJSON.decode([StepPhase].self, from: Array(steps.utf8)) {
            for step in phases where step.phase == StepProgress.Phase.running.rawValue { running[step.name] = step.attempt }
        }
        return running
    }

    /// One batch: fires the due timers of up to a batch of sagas (and of legacy timer rows).
    /// Returns how many timers fired, and how many sagas and rows it claimed, which tells the
    /// loop whether more may be due.
    private func round(now: Date) async throws -> (fired: Int, claimed: Int) {
        var timedOutSteps: [(sagaType: String, step: String)] = []
        var claimed = 0
        let result = try await pool.withConnection { connection in
            try await self.processor.process(on: connection, now: now) { connection in
                timedOutSteps = []
                let woken = try await self.claimWakeups(now: now, on: connection)
                let legacy = try await self.claimLegacyTimers(now: now, on: connection)
                claimed = woken.count + legacy.count

                // A timeout only counts from when its command actually left: a command still
                // waiting in the outbox (its participant's circuit is open, or the relay is
                // behind) has its timeout put off instead of fired.
                var awaited: [String] = []
                for saga in woken {
                    for timer in saga.timers.due(at: now) {
                        if let command = Self.awaitedCommand(of: timer.kind, sagaId: saga.sagaId) { awaited.append(command) }
                    }
                }
                for timer in legacy {
                    if let kind = timer.kind, let command = Self.awaitedCommand(of: kind, sagaId: timer.sagaId) {
                        awaited.append(command)
                    }
                }
                let unsent = try await self.unsentCommands(awaited, on: connection)
                let postponedDue = now.addingTimeInterval(Self.postponement)

                var work: [SagaWork] = []
                var rearmed = RearmedSagas()
                var unregistered: Set<String> = []
                for saga in woken {
                    var timers = saga.timers
                    // A saga of a definition this process does not have (a deploy between two
                    // versions) keeps its timers for an instance that has it: every instance
                    // looks, each second.
                    guard (try? self.processor.registry.definition(name: saga.sagaType, version: saga.version)) != nil else {
                        unregistered.insert("\(saga.sagaType) v\(saga.version)")
                        rearmed.append(sagaId: saga.sagaId, timers: timers, wakeAt: postponedDue)
                        continue
                    }
                    for timer in saga.timers.due(at: now) {
                        if let command = Self.awaitedCommand(of: timer.kind, sagaId: saga.sagaId), unsent.contains(command) {
                            timers.postpone(timer.kind, to: postponedDue)
                            continue
                        }
                        timers.remove(timer.kind)
                        // Only a timeout that finds its step waiting counts against the participant's
                        // circuit: one whose reply came (and was taken by an earlier version, which
                        // could not take the timer off this row) changes nothing.
                        if case .stepTimeout(let step, let attempt) = timer.kind, saga.running[step] == attempt {
                            timedOutSteps.append((saga.sagaType, step))
                        }
                        work.append(SagaWork(target: .saga(id: saga.sagaId), input: .timer(timer.kind), inboxId: nil, source: "timer"))
                    }
                    // Taken off the row before they are applied, so a timer fires once even when
                    // its saga refuses it or has ended; a wake-up that found nothing due moves on
                    // to the earliest timer left.
                    rearmed.append(sagaId: saga.sagaId, timers: timers)
                }
                for statement in rearmed.statements {
                    _ = try await connection.query(statement)
                }

                var postponed = JSONRecords()
                for timer in legacy {
                    guard let kind = timer.kind else {
                        self.logger.error("dropping a timer of unknown kind", metadata: ["timer": "\(timer.timerId)", "kind": "\(timer.kindName)"])
                        continue
                    }
                    let registered = (try? self.processor.registry.definition(name: timer.sagaType, version: timer.version)) != nil
                    if !registered { unregistered.insert("\(timer.sagaType) v\(timer.version)") }
                    if !registered || Self.awaitedCommand(of: kind, sagaId: timer.sagaId).map(unsent.contains) == true {
                        postponed.beginRecord()
                        postponed.field("timer_id", timer.timerId)
                        postponed.field("saga_id", timer.sagaId)
                        postponed.field("saga_type", timer.sagaType)
                        postponed.field("kind", timer.kindName)
                        postponed.field("step", kind.step)
                        postponed.field("attempt", kind.attempt)
                        postponed.field("due_at", Timestamp.format(postponedDue))
                        postponed.endRecord()
                        continue
                    }
                    if case .stepTimeout(let step, let attempt) = kind, timer.running[step] == attempt {
                        timedOutSteps.append((timer.sagaType, step))
                    }
                    work.append(SagaWork(target: .saga(id: timer.sagaId), input: .timer(kind), inboxId: nil, source: "timer"))
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
                if !unregistered.isEmpty {
                    self.logger.warning(
                        "due timers of sagas whose definitions this process does not have wait for an instance that has them",
                        metadata: ["definitions": "\(unregistered.sorted().joined(separator: ", "))"])
                }
                return work
            }
        }
        if !result.work.isEmpty {
            metrics.timersFired.increment(by: result.work.count)
            afterCommit(result.wroteCommands)
        }
        for (item, outcome) in zip(result.work, result.outcomes) {
            switch outcome {
            case .unroutable(let reason), .rejected(let reason):
                // The timer is gone either way (it fired once); say why it changed nothing.
                if case .saga(let sagaId) = item.target, case .timer(let kind) = item.input {
                    logger.warning(
                        "a due timer was not applied", metadata: ["saga": "\(sagaId)", "timer": "\(kind.name)", "reason": "\(reason)"])
                }
            case .applied, .duplicate:
                break
            }
        }
        if let breakers {
            for (sagaType, step) in timedOutSteps {
                if let topic = (try? processor.registry.latest(name: sagaType))?.commandTopic(ofStep: step) {
                    breakers.recordTimeout(topic: topic)
                }
            }
        }
        return (result.work.count, claimed)
    }

    /// Locks up to a batch of sagas whose wake-up came due, and reads their armed timers.
    ///
    /// The sagas are locked, not their wake-up rows, with `SKIP LOCKED`: a saga that a pump
    /// batch or another timer service holds is left for later, and since row locking happens
    /// below the `LIMIT`, skipped rows do not use up the batch — each instance claims
    /// different sagas. The pump locks a saga's row before it touches its wake-up row, so the
    /// two never wait for each other in a cycle.
    private func claimWakeups(now: Date, on connection: PostgresConnection) async throws -> [WokenSaga] {
        let rows = try await connection.query(
            """
            SELECT s.saga_id, s.saga_type, s.definition_version, s.timers, s.steps::text
            FROM saga_wakeups w JOIN sagas s ON s.saga_id = w.saga_id
            WHERE w.wake_at <= \(now) ORDER BY w.wake_at LIMIT \(batchSize)
            FOR UPDATE OF s SKIP LOCKED
            """
        )
        var woken: [WokenSaga] = []
        for row in rows {
            let sagaId = try row.decode(String.self, at: 0)
            let timers: PendingTimers
            do {
                timers = try PendingTimers(text: try row.decode(String?.self, at: 3))
            } catch {
                // Its wake-up row goes with the rewrite below, or the saga would be claimed forever.
                logger.error("a saga's armed timers cannot be read; dropping them", metadata: ["saga": "\(sagaId)", "error": "\(error)"])
                timers = PendingTimers()
            }
            woken.append(
                WokenSaga(
                    sagaId: sagaId, sagaType: try row.decode(String.self, at: 1), version: try row.decode(Int.self, at: 2),
                    timers: timers, running: Self.runningSteps(try row.decode(String?.self, at: 4))))
        }
        return woken
    }

    /// Deletes (claims) up to a batch of due timers of the `timers` table, with their sagas
    /// locked first (as ``claimWakeups(now:on:)`` does, and for the same reason).
    private func claimLegacyTimers(now: Date, on connection: PostgresConnection) async throws -> [LegacyTimer] {
        let due = try await connection.query(
            """
            SELECT t.timer_id FROM timers t JOIN sagas s ON s.saga_id = t.saga_id
            WHERE t.due_at <= \(now) ORDER BY t.due_at LIMIT \(batchSize)
            FOR UPDATE OF s SKIP LOCKED
            """
        )
        let timerIds = try due.map { try $0.decode(String.self, at: 0) }
        guard !timerIds.isEmpty else { return [] }
        let rows = try await connection.query(
            """
            DELETE FROM timers t USING sagas s
            WHERE t.timer_id IN (SELECT json_array_elements_text(\(JSONRecords.array(timerIds))::json)) AND t.due_at <= \(now)
              AND s.saga_id = t.saga_id
            RETURNING t.timer_id, t.saga_id, t.kind, t.step, t.attempt, t.saga_type, s.steps::text, s.definition_version
            """
        )
        return try rows.map { row in
            let name = try row.decode(String.self, at: 2)
            return LegacyTimer(
                timerId: try row.decode(String.self, at: 0),
                sagaId: try row.decode(String.self, at: 1),
                sagaType: try row.decode(String.self, at: 5),
                kindName: name,
                kind: TimerKind(name: name, step: try row.decode(String?.self, at: 3), attempt: try row.decode(Int?.self, at: 4)),
                version: try row.decode(Int.self, at: 7),
                running: Self.runningSteps(try row.decode(String?.self, at: 6))
            )
        }
    }

    /// The id of the command whose reply `kind` waits for, if it is a timeout.
    private static func awaitedCommand(of kind: TimerKind, sagaId: String) -> String? {
        switch kind {
        case .stepTimeout(let step, let attempt):
            OutgoingCommand.id(sagaId: sagaId, step: step, purpose: .action, attempt: attempt)
        case .compensationTimeout(let step, let attempt):
            OutgoingCommand.id(sagaId: sagaId, step: step, purpose: .compensation, attempt: attempt)
        default:
            nil
        }
    }

    /// Which of `commands` are still in the outbox.
    private func unsentCommands(_ commands: [String], on connection: PostgresConnection) async throws -> Set<String> {
        guard !commands.isEmpty else { return [] }
        let pending = try await connection.query(
            "SELECT message_id FROM outbox WHERE message_id IN (SELECT jsonb_array_elements_text(\(JSONRecords.array(commands))::jsonb))"
        )
        var unsent: Set<String> = []
        for row in pending { unsent.insert(try row.decode(String.self, at: 0)) }
        return unsent
    }
}

extension TimerService {
    /// The woken sagas' timers once the due ones are taken off or put off, and their wake-up
    /// rows moved to the earliest timer left (or removed), in three statements.
    struct RearmedSagas {
        private var sagaIds = PostgresArrayWriter(of: .text)
        private var timers = PostgresArrayWriter(of: .text)
        private var wakeTimes = PostgresArrayWriter(of: .timestamptz)
        private var moved = BatchWrites.WakeupRows()
        private var removed = PostgresArrayWriter(of: .text)

        /// - Parameter wakeAt: when to look at the saga again; the earliest timer left by default.
        mutating func append(sagaId: String, timers pending: PendingTimers, wakeAt: Date? = nil) {
            let wake = wakeAt ?? pending.earliestDue
            sagaIds.append(sagaId)
            timers.append(pending)
            wakeTimes.append(wake)
            if let wake {
                moved.append(sagaId: sagaId, wakeAt: wake)
            } else {
                removed.append(sagaId)
            }
        }

        var statements: [PostgresQuery] {
            guard sagaIds.count > 0 else { return [] }
            var statements = [PostgresQuery(PumpStatements.rearmTimers, [sagaIds.value, timers.value, wakeTimes.value])]
            if moved.sagaIds.count > 0 { statements.append(PostgresQuery(PumpStatements.setWakeups, moved.values)) }
            if removed.count > 0 { statements.append(PostgresQuery(PumpStatements.removeWakeups, [removed.value])) }
            return statements
        }
    }
}
