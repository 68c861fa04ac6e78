import Foundation
import MetricsTestKit
import Skald
import SkaldPostgres
import SkaldRuntime
import SkaldTestSupport
import Testing

/// Timers fire exactly once, however many timer services race for them, while replies
/// for the same sagas are applied at the same time (the pump's lock order: saga, then its
/// wake-up row); a wake-up row is never later than its saga's earliest timer.
@Suite("Timers: exactly once across instances")
struct TimerServiceTests {
    @Test("three timer services and a reply stream over 300 sagas: every due timeout fires once or is cancelled, never twice")
    func dueTimersFireExactlyOnce() async throws {
        let url = try await TestPostgres.freshStore("timers")
        let registry = try {
            var registry = SagaRegistry()
            try registry.register(transferSaga(stepTimeout: .seconds(1), stepRetry: .none))
            return registry
        }()
        let sagas = 300
        let started = Date(timeIntervalSince1970: 1_800_000_000)
        let due = started.addingTimeInterval(2)

        // 300 sagas whose debit command "left" (the outbox is emptied), each with a debit timeout due.
        let setup = try await PostgresConnection.connect(to: url)
        var starts: [SagaWork] = []
        for index in 0..<sagas {
            let envelope = MessageEnvelope(id: "start-\(index)", source: "test", type: StartTransfer.messageType)
            let payload = try SkaldJSON.encode(StartTransfer(transferId: "t\(index)", amount: 10, declineDebit: false, declineCredit: false))
            starts.append(SagaWork(
                target: .start(sagaType: "Transfer", sagaId: "Transfer-\(index)", businessKey: nil),
                input: .start(envelope: envelope, payload: payload), inboxId: envelope.id, source: "test"))
        }
        // The processor that started the sagas has them cached: its replies take the one-round-trip
        // path, without row locks, racing the timer services' locked transactions.
        let metrics = TestMetrics()
        let starter = SagaProcessor(registry: registry, metrics: OrchestratorMetrics(factory: metrics))
        _ = try await starter.process(starts, on: setup, now: started)
        _ = try await setup.execute("DELETE FROM outbox")
        #expect(try await TestPostgres.count(url, "SELECT count(*)::bigint FROM saga_wakeups WHERE wake_at <= \(due)") == sagas)
        await setup.close()

        // Every third saga gets its Debited reply while the timer services run.
        let replied = Set(stride(from: 0, to: sagas, by: 3))
        let replies: [SagaWork] = replied.sorted().map { index in
            let envelope = MessageEnvelope(
                id: "reply-\(index)", source: "test", type: Debited.messageType, sagaId: "Transfer-\(index)",
                sagaType: "Transfer", sagaStep: "debit", causationId: OutgoingCommand.id(sagaId: "Transfer-\(index)", step: "debit", purpose: .action, attempt: 1))
            return SagaWork(
                target: .saga(id: "Transfer-\(index)"), input: .message(envelope: envelope, payload: Array(#"{"transferId":"t\#(index)"}"#.utf8)),
                inboxId: envelope.id, source: "test")
        }

        let fired = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<3 {
                group.addTask {
                    // Each like its own process: its own pool and instance cache; small batches, so they interleave.
                    let pool = PostgresPool(url: url, maximumConnections: 1)
                    let timers = TimerService(pool: pool, processor: SagaProcessor(registry: registry), batchSize: 7)
                    var total = 0
                    while true {
                        let count = try await timers.fireDue(now: due)
                        total += count
                        if count == 0, try await TestPostgres.count(url, "SELECT count(*)::bigint FROM saga_wakeups WHERE wake_at <= \(due)") == 0 { break }
                    }
                    await pool.close()
                    return total
                }
            }
            group.addTask {
                let connection = try await PostgresConnection.connect(to: url)
                let processor = starter
                for chunk in stride(from: 0, to: replies.count, by: 5) {
                    _ = try await processor.process(Array(replies[chunk..<min(replies.count, chunk + 5)]), on: connection, now: due)
                }
                await connection.close()
                return 0
            }
            return try await group.reduce(0, +)
        }

        let timeouts = try await TestPostgres.strings(
            url, "SELECT saga_id FROM saga_events WHERE event_type = 'step.timed-out' ORDER BY saga_id")
        #expect(Set(timeouts).count == timeouts.count, "a timeout fired twice: \(timeouts.count - Set(timeouts).count) duplicates")
        #expect(timeouts.count == fired)
        // A saga without a reply timed out exactly once; one with a reply either timed out first or not at all.
        let timedOut = Set(timeouts)
        for index in 0..<sagas where !replied.contains(index) {
            #expect(timedOut.contains("Transfer-\(index)"), "Transfer-\(index) never timed out")
        }
        #expect(fired >= sagas - replied.count && fired <= sagas)
        // Replies for sagas whose timeout fired first conflicted and were redone under the locks.
        let optimistic = try metrics.expectCounter("skald_pump_optimistic_batches_total").totalValue
        let conflicts = try metrics.expectCounter("skald_pump_optimistic_conflicts_total").totalValue
        #expect(optimistic + conflicts > 0, "no reply batch tried the one-round-trip path")
        let logs = try await TestPostgres.strings(
            url,
            """
            SELECT s.saga_id FROM sagas s JOIN saga_events e ON e.saga_id = s.saga_id
            GROUP BY s.saga_id, s.last_sequence HAVING count(*) <> s.last_sequence OR max(e.sequence) <> s.last_sequence
            """)
        #expect(logs.isEmpty, "logs with gaps or rows behind them: \(logs)")
        try await Self.expectWakeupsInTime(url)
    }

    /// Every saga with a timer armed has a wake-up row no later than its earliest timer, and a
    /// saga with none has no row: no timer can be missed or fire late.
    static func expectWakeupsInTime(_ url: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let late = try await TestPostgres.strings(
            url,
            """
            SELECT s.saga_id FROM sagas s LEFT JOIN saga_wakeups w USING (saga_id)
            WHERE s.timers IS NOT NULL
              AND (w.wake_at IS NULL
                   OR w.wake_at > (SELECT min((t ->> 'due')::timestamptz) FROM json_array_elements(s.timers::json) t))
            """)
        #expect(late.isEmpty, "sagas whose wake-up is missing or late: \(late)", sourceLocation: sourceLocation)
        let stray = try await TestPostgres.strings(
            url, "SELECT w.saga_id FROM saga_wakeups w JOIN sagas s USING (saga_id) WHERE s.timers IS NULL")
        #expect(stray.isEmpty, "wake-up rows of sagas with no timer: \(stray)", sourceLocation: sourceLocation)
    }

    private static let started = Date(timeIntervalSince1970: 1_800_000_000)

    /// A store with `count` Transfer sagas started at ``started`` (debit timeout 1 s, no retry),
    /// their debit commands still in the outbox; and a timer service for it.
    private static func startedSagas(_ count: Int, store: String) async throws -> (url: String, connection: PostgresConnection, timers: TimerService, pool: PostgresPool) {
        let url = try await TestPostgres.freshStore(store)
        var registry = SagaRegistry()
        try registry.register(transferSaga(stepTimeout: .seconds(1), stepRetry: .none))
        let connection = try await PostgresConnection.connect(to: url)
        _ = try await SagaProcessor(registry: registry).process(try TransferInputs.start(0..<count), on: connection, now: started)
        let pool = PostgresPool(url: url, maximumConnections: 1)
        return (url, connection, TimerService(pool: pool, processor: SagaProcessor(registry: registry)), pool)
    }

    @Test("a timeout whose command is still in the outbox is put off a second, then fires once the command has left")
    func timeoutOfUnsentCommandIsPutOff() async throws {
        let (url, connection, timers, pool) = try await Self.startedSagas(2, store: "timers_postponed")
        defer { Task { await connection.close(); await pool.close() } }
        let due = Self.started.addingTimeInterval(1)
        // Saga 0's command left; saga 1's waits in the outbox (its participant's circuit is open, say).
        _ = try await connection.execute("DELETE FROM outbox WHERE saga_id = 'Transfer-0'")

        #expect(try await timers.fireDue(now: due) == 1)
        #expect(try await TestPostgres.strings(url, "SELECT saga_id FROM saga_events WHERE event_type = 'step.timed-out'") == ["Transfer-0"])
        let putOff = due.addingTimeInterval(TimerService.postponement)
        #expect(try await TestPostgres.count(url, "SELECT count(*)::bigint FROM saga_wakeups WHERE saga_id = 'Transfer-1' AND wake_at = \(putOff)") == 1)
        try await Self.expectWakeupsInTime(url)
        #expect(try await timers.fireDue(now: due) == 0)

        _ = try await connection.execute("DELETE FROM outbox WHERE saga_id = 'Transfer-1'")
        #expect(try await timers.fireDue(now: putOff) == 1)
        #expect(
            try await TestPostgres.strings(url, "SELECT saga_id FROM saga_events WHERE event_type = 'step.timed-out' ORDER BY 1")
                == ["Transfer-0", "Transfer-1"])
        try await Self.expectWakeupsInTime(url)
    }

    @Test("a wake-up that comes due with no timer due moves on to the earliest timer, and changes nothing else")
    func earlyWakeupMovesOn() async throws {
        let (url, connection, timers, pool) = try await Self.startedSagas(1, store: "timers_early")
        defer { Task { await connection.close(); await pool.close() } }
        let early = Self.started.addingTimeInterval(0.25)
        _ = try await connection.execute("UPDATE saga_wakeups SET wake_at = \(early)")
        _ = try await connection.execute("UPDATE sagas SET wake_at = \(early)")
        let events = try await TestPostgres.count(url, "SELECT count(*)::bigint FROM saga_events")

        #expect(try await timers.fireDue(now: early) == 0)
        #expect(try await TestPostgres.count(url, "SELECT count(*)::bigint FROM saga_events") == events)
        let debitTimeout = Self.started.addingTimeInterval(1)
        #expect(try await TestPostgres.count(url, "SELECT count(*)::bigint FROM saga_wakeups WHERE wake_at = \(debitTimeout)") == 1)
        #expect(try await TestPostgres.count(url, "SELECT count(*)::bigint FROM sagas WHERE wake_at = \(debitTimeout)") == 1)
        try await Self.expectWakeupsInTime(url)
    }

    @Test("a cached saga whose wake-up is due goes under the row locks, where it finds what a timer service changed without an event")
    func dueWakeupBypassesTheCache() async throws {
        let url = try await TestPostgres.freshStore("timers_margin")
        var registry = SagaRegistry()
        try registry.register(transferSaga(stepTimeout: .seconds(1), stepRetry: .none))
        let metrics = TestMetrics()
        let pump = SagaProcessor(registry: registry, metrics: OrchestratorMetrics(factory: metrics))
        let connection = try await PostgresConnection.connect(to: url)
        let pool = PostgresPool(url: url, maximumConnections: 1)
        defer { Task { await connection.close(); await pool.close() } }
        _ = try await pump.process(try TransferInputs.start(0..<1), on: connection, now: Self.started)
        #expect(try metrics.expectCounter("skald_pump_optimistic_batches_total").totalValue == 1)

        // Another instance's timer service puts the debit timeout off: its command has not left.
        let due = Self.started.addingTimeInterval(1)
        let elsewhere = TimerService(pool: pool, processor: SagaProcessor(registry: registry))
        #expect(try await elsewhere.fireDue(now: due) == 0)
        let putOff = due.addingTimeInterval(TimerService.postponement)
        #expect(try await TestPostgres.count(url, "SELECT count(*)::bigint FROM sagas WHERE wake_at = \(putOff)") == 1)

        // The pump's cache still says the wake-up is at `due`: the reply goes the locked way.
        _ = try await pump.process([try TransferInputs.debited(0)], on: connection, now: due.addingTimeInterval(0.5))
        #expect(try metrics.expectCounter("skald_pump_optimistic_batches_total").totalValue == 1)
        #expect(try await TestPostgres.strings(url, "SELECT current_step FROM sagas") == ["credit"])
        #expect(
            try await TestPostgres.count(
                url, "SELECT count(*)::bigint FROM sagas s JOIN saga_wakeups w USING (saga_id) WHERE s.wake_at = w.wake_at") == 1)
        try await Self.expectWakeupsInTime(url)
    }

    @Test("a saga of a definition this process does not have keeps its timers, put off a second, for an instance that has it")
    func unregisteredDefinitionWaits() async throws {
        let (url, connection, timers, pool) = try await Self.startedSagas(2, store: "timers_unregistered")
        defer { Task { await connection.close(); await pool.close() } }
        _ = try await connection.execute("DELETE FROM outbox")
        // Saga 1 as an earlier version left it: its debit timeout in `timers`.
        let legacyDue = Self.started.addingTimeInterval(1)
        _ = try await connection.execute("DELETE FROM saga_wakeups WHERE saga_id = 'Transfer-1'")
        _ = try await connection.execute("UPDATE sagas SET timers = NULL, wake_at = NULL WHERE saga_id = 'Transfer-1'")
        try await connection.query(
            """
            INSERT INTO timers (timer_id, saga_id, saga_type, kind, step, attempt, due_at)
            VALUES (\(TimerKind.stepTimeout(step: "debit", attempt: 1).id(sagaId: "Transfer-1")), 'Transfer-1', 'Transfer',
                    'step-timeout', 'debit', 1, \(legacyDue))
            """)
        var other = SagaRegistry()
        try other.register(transferSaga(version: 2, stepTimeout: .seconds(1), stepRetry: .none))
        let otherPool = PostgresPool(url: url, maximumConnections: 1)
        defer { Task { await otherPool.close() } }
        let withoutV1 = TimerService(pool: otherPool, processor: SagaProcessor(registry: other))
        let due = Self.started.addingTimeInterval(1)
        let timersBefore = try await TestPostgres.strings(url, "SELECT timers FROM sagas WHERE saga_id = 'Transfer-0'")

        #expect(try await withoutV1.fireDue(now: due) == 0)
        #expect(try await TestPostgres.strings(url, "SELECT timers FROM sagas WHERE saga_id = 'Transfer-0'") == timersBefore)
        let putOff = due.addingTimeInterval(TimerService.postponement)
        #expect(try await TestPostgres.count(url, "SELECT count(*)::bigint FROM saga_wakeups WHERE wake_at = \(putOff)") == 1)
        #expect(try await TestPostgres.count(url, "SELECT count(*)::bigint FROM timers WHERE due_at = \(putOff)") == 1)
        #expect(try await TestPostgres.count(url, "SELECT count(*)::bigint FROM saga_events WHERE event_type = 'step.timed-out'") == 0)

        #expect(try await timers.fireDue(now: putOff) == 2)
        #expect(try await TestPostgres.count(url, "SELECT count(*)::bigint FROM saga_events WHERE event_type = 'step.timed-out'") == 2)
        #expect(try await TestPostgres.count(url, "SELECT count(*)::bigint FROM timers") == 0)
        try await Self.expectWakeupsInTime(url)
    }

    @Test("only a step timeout that finds its step waiting counts against the participant's circuit; one whose reply came does not")
    func staleTimeoutsLeaveTheBreakerClosed() async throws {
        let (url, connection, _, pool) = try await Self.startedSagas(1, store: "timers_breaker")
        defer { Task { await connection.close(); await pool.close() } }
        _ = try await connection.execute("DELETE FROM outbox")
        var registry = SagaRegistry()
        try registry.register(transferSaga(stepTimeout: .seconds(1), stepRetry: .none))
        let processor = SagaProcessor(registry: registry)
        let breakers = ParticipantBreakers(policy: CircuitBreaker.Policy(failureThreshold: 1))
        let timers = TimerService(pool: pool, processor: processor, breakers: breakers)
        let due = Self.started.addingTimeInterval(1)
        // Saga 0's debit is answered; an earlier version's debit timeout for it is left in
        // `timers`, and another on its row (as a pump of this version and one of the earlier
        // version, taking turns, would leave them).
        _ = try await processor.process([try TransferInputs.debited(0)], on: connection, now: Self.started.addingTimeInterval(0.5))
        _ = try await connection.execute("DELETE FROM outbox")
        let debitTimeout = TimerKind.stepTimeout(step: "debit", attempt: 1)
        try await connection.query(
            """
            INSERT INTO timers (timer_id, saga_id, saga_type, kind, step, attempt, due_at)
            VALUES (\(debitTimeout.id(sagaId: "Transfer-0")), 'Transfer-0', 'Transfer', 'step-timeout', 'debit', 1, \(due))
            """)
        let stale = #"[{"kind":"step-timeout","step":"debit","attempt":1,"due":"\#(Timestamp.format(due))"}]"#
        try await connection.query("UPDATE sagas SET timers = \(stale), wake_at = \(due)")
        try await connection.query("UPDATE saga_wakeups SET wake_at = \(due)")

        #expect(try await timers.fireDue(now: due) == 2)
        #expect(breakers.states[TransferTopics.debits] == nil || breakers.states[TransferTopics.debits] == .closed)
        #expect(try await TestPostgres.count(url, "SELECT count(*)::bigint FROM saga_events WHERE event_type = 'step.timed-out'") == 0)

        // A live one opens it (threshold 1).
        _ = try await processor.process(try TransferInputs.start(1..<2), on: connection, now: due)
        _ = try await connection.execute("DELETE FROM outbox")
        #expect(try await timers.fireDue(now: due.addingTimeInterval(1)) == 1)
        #expect(try await TestPostgres.count(url, "SELECT count(*)::bigint FROM saga_events WHERE event_type = 'step.timed-out'") == 1)
        if case .open = breakers.states[TransferTopics.debits] {} else {
            Issue.record("a live step timeout left the debits circuit \(String(describing: breakers.states[TransferTopics.debits]))")
        }
    }

    @Test("a saga that ends has no timer armed and no wake-up row")
    func endedSagaLeavesNoWakeup() async throws {
        let (url, connection, _, pool) = try await Self.startedSagas(3, store: "timers_ended")
        defer { Task { await connection.close(); await pool.close() } }
        var registry = SagaRegistry()
        try registry.register(transferSaga(stepTimeout: .seconds(1), stepRetry: .none))
        let processor = SagaProcessor(registry: registry)
        let now = Self.started.addingTimeInterval(0.5)
        // Saga 0 completes; saga 1 is declined and compensated; saga 2 stays at its debit.
        _ = try await processor.process([try TransferInputs.debited(0), try TransferInputs.debitDeclined(1)], on: connection, now: now)
        _ = try await processor.process([try TransferInputs.credited(0)], on: connection, now: now)
        _ = try await processor.process([try TransferInputs.notified(0)], on: connection, now: now)
        #expect(
            try await TestPostgres.strings(url, "SELECT saga_id || ' ' || status FROM sagas ORDER BY 1")
                == ["Transfer-0 completed", "Transfer-1 compensated", "Transfer-2 running"])
        #expect(try await TestPostgres.strings(url, "SELECT saga_id FROM saga_wakeups") == ["Transfer-2"])
        #expect(try await TestPostgres.count(url, "SELECT count(*)::bigint FROM sagas WHERE timers IS NULL AND wake_at IS NULL") == 2)
        try await Self.expectWakeupsInTime(url)
    }

    @Test("a timer an earlier version armed in the timers table fires once, and its row goes")
    func legacyTimerFiresOnce() async throws {
        let (url, connection, timers, pool) = try await Self.startedSagas(1, store: "timers_legacy")
        defer { Task { await connection.close(); await pool.close() } }
        _ = try await connection.execute("DELETE FROM outbox")
        // The saga as an orchestrator before 0011 left it: no timers on its row, its timeout in `timers`.
        _ = try await connection.execute("DELETE FROM saga_wakeups")
        _ = try await connection.execute("UPDATE sagas SET timers = NULL, wake_at = NULL")
        let due = Self.started.addingTimeInterval(1)
        let timerId = TimerKind.stepTimeout(step: "debit", attempt: 1).id(sagaId: "Transfer-0")
        try await connection.query(
            """
            INSERT INTO timers (timer_id, saga_id, saga_type, kind, step, attempt, due_at)
            VALUES (\(timerId), 'Transfer-0', 'Transfer', 'step-timeout', 'debit', 1, \(due))
            """)

        #expect(try await timers.fireDue(now: due) == 1)
        #expect(try await timers.fireDue(now: due) == 0)
        #expect(try await TestPostgres.strings(url, "SELECT saga_id FROM saga_events WHERE event_type = 'step.timed-out'") == ["Transfer-0"])
        #expect(try await TestPostgres.count(url, "SELECT count(*)::bigint FROM timers") == 0)
        try await Self.expectWakeupsInTime(url)
    }
}
