import Foundation
import MetricsTestKit
import Skald
import SkaldPostgres
import SkaldRuntime
import SkaldTestSupport
import Testing

/// The processor's one-round-trip path: batches for cached sagas commit without row locks,
/// and every way the cache can be wrong sends the batch back through the locked path with
/// nothing of the attempt left behind.
@Suite("Saga processor: the one-round-trip path and its fallbacks")
struct OptimisticBatchTests {
    private static let registry: SagaRegistry = {
        var registry = SagaRegistry()
        try! registry.register(transferSaga())
        return registry
    }()
    private static let now = Date(timeIntervalSince1970: 1_800_000_000)

    /// Every saga's log numbered 1…n with no gap, and its row's `last_sequence` at n.
    private static func expectLogsWhole(_ url: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let broken = try await TestPostgres.strings(
            url,
            """
            SELECT s.saga_id FROM sagas s JOIN saga_events e ON e.saga_id = s.saga_id
            GROUP BY s.saga_id, s.last_sequence
            HAVING count(*) <> s.last_sequence OR max(e.sequence) <> s.last_sequence OR min(e.sequence) <> 1
            """)
        #expect(broken.isEmpty, "logs with gaps or rows behind them: \(broken)", sourceLocation: sourceLocation)
    }

    /// A fresh store, a processor whose metrics the test reads, and a connection to the store.
    private static func freshStore() async throws -> (
        url: String, metrics: TestMetrics, processor: SagaProcessor, connection: PostgresConnection
    ) {
        let url = try await TestPostgres.freshStore("optimistic")
        let metrics = TestMetrics()
        let processor = SagaProcessor(registry: registry, metrics: OrchestratorMetrics(factory: metrics))
        return (url, metrics, processor, try await PostgresConnection.connect(to: url))
    }

    @Test("replies for cached sagas commit in one round trip, and a fresh fold agrees with what they wrote")
    func cachedSagasTakeTheShortPath() async throws {
        let (url, metrics, processor, connection) = try await Self.freshStore()
        defer { Task { await connection.close() } }

        let started = try await processor.process(try TransferInputs.start(0..<50), on: connection, now: Self.now)
        #expect(started.outcomes == (0..<50).map { .applied(sagaId: "Transfer-\($0)") })
        #expect(try metrics.expectCounter("skald_pump_optimistic_batches_total").totalValue == 1, "new sagas take the short path")

        let replies = try (0..<50).map { try TransferInputs.debited($0) }
        let result = try await processor.process(replies, on: connection, now: Self.now)
        #expect(result.outcomes == (0..<50).map { .applied(sagaId: "Transfer-\($0)") })
        #expect(result.wroteCommands)
        #expect(try metrics.expectCounter("skald_pump_optimistic_batches_total").totalValue == 2)
        #expect(try metrics.expectCounter("skald_pump_optimistic_conflicts_total").totalValue == 0)
        #expect(metrics.counters(label: "skald_pump_locked_batches_total").isEmpty, "no batch took the locks")
        #expect(try await TestPostgres.count(url, "SELECT count(*)::bigint FROM inbox WHERE message_id LIKE 'debited-%'") == 50)
        #expect(try await TestPostgres.count(url, "SELECT count(*)::bigint FROM outbox WHERE topic = \(TransferTopics.credits)") == 50)
        try await Self.expectLogsWhole(url)

        // Another processor, with nothing cached, folds the logs the short path appended and
        // takes the sagas on: they were written as the locked path would have.
        let fresh = SagaProcessor(registry: Self.registry)
        let credited = try await fresh.process(try (0..<50).map { try TransferInputs.credited($0) }, on: connection, now: Self.now)
        #expect(credited.outcomes == (0..<50).map { .applied(sagaId: "Transfer-\($0)") })
        #expect(try await TestPostgres.count(url, "SELECT count(*)::bigint FROM sagas WHERE current_step = 'notify'") == 50)
        try await Self.expectLogsWhole(url)
    }

    @Test("a saga another processor moved on fails the log's key; the batch is redone under the locks, nothing doubled")
    func staleCacheIsRedoneUnderLocks() async throws {
        let (url, metrics, processor, connection) = try await Self.freshStore()
        defer { Task { await connection.close() } }
        _ = try await processor.process(try TransferInputs.start(0..<20), on: connection, now: Self.now)
        let eventsAfterStart = try await TestPostgres.count(url, "SELECT count(*)::bigint FROM saga_events")

        // Another orchestrator applies the debit replies of the even sagas: this cache is now behind on them.
        let otherMetrics = TestMetrics()
        let other = SagaProcessor(registry: Self.registry, metrics: OrchestratorMetrics(factory: otherMetrics))
        _ = try await other.process(try stride(from: 0, to: 20, by: 2).map { try TransferInputs.debited($0) }, on: connection, now: Self.now)
        // It has none of them cached, so it reads them under the locks, and says why.
        #expect(try otherMetrics.expectCounter("skald_pump_locked_batches_total", [("reason", "uncached_saga")]).totalValue == 1)
        let eventsBefore = try await TestPostgres.count(url, "SELECT count(*)::bigint FROM saga_events")

        // The same replies again under other message ids (a participant answering twice), with
        // the odd sagas' first replies. The stale instances still wait for the debit, so they
        // would append a success at a sequence the log already has.
        let replies = try (0..<20).map { try TransferInputs.debited($0, messageId: "again-\($0)") }
        let result = try await processor.process(replies, on: connection, now: Self.now)
        #expect(try metrics.expectCounter("skald_pump_optimistic_conflicts_total").totalValue == 1)
        #expect(try metrics.expectCounter("skald_pump_locked_batches_total", [("reason", "conflict")]).totalValue == 1)
        #expect(result.outcomes == (0..<20).map { .applied(sagaId: "Transfer-\($0)") })

        // Only the odd sagas moved: one debit success each, and one credit command each.
        let successes = try await TestPostgres.strings(
            url,
            "SELECT saga_id FROM saga_events WHERE event_type = 'step.succeeded' ORDER BY saga_id")
        #expect(successes.count == 20 && Set(successes).count == 20, "a debit success recorded twice: \(successes)")
        let eventsAfter = try await TestPostgres.count(url, "SELECT count(*)::bigint FROM saga_events")
        // The odd sagas' debits appended what the even ones' did; the even sagas, redone under
        // the locks, recorded the second reply as ignored, once each.
        let ignored = try await TestPostgres.strings(
            url, "SELECT saga_id FROM saga_events WHERE event_type = 'saga.input-ignored' ORDER BY saga_id")
        #expect(ignored == stride(from: 0, to: 20, by: 2).map { "Transfer-\($0)" }.sorted())
        #expect(eventsAfter - eventsBefore == (eventsBefore - eventsAfterStart) + ignored.count)
        #expect(try await TestPostgres.count(url, "SELECT count(*)::bigint FROM outbox WHERE topic = \(TransferTopics.credits)") == 20)
        try await Self.expectLogsWhole(url)

        // The locked path refreshed the cache: the next replies take the short path again
        // (the starts took it before).
        _ = try await processor.process(try (0..<20).map { try TransferInputs.credited($0) }, on: connection, now: Self.now)
        #expect(try metrics.expectCounter("skald_pump_optimistic_batches_total").totalValue == 2)
        try await Self.expectLogsWhole(url)
    }

    @Test("a message id the inbox has seen fails the short path's inbox insert and is a duplicate, though the cached saga would take it")
    func seenMessageIsRedoneUnderLocks() async throws {
        let (url, metrics, processor, connection) = try await Self.freshStore()
        defer { Task { await connection.close() } }
        _ = try await processor.process(try TransferInputs.start(0..<3), on: connection, now: Self.now)
        _ = try await processor.process([try TransferInputs.debited(0, messageId: "reused")], on: connection, now: Self.now)
        #expect(try metrics.expectCounter("skald_pump_optimistic_batches_total").totalValue == 2)

        // The same message id again, this time naming saga 1, which still waits for its debit.
        let result = try await processor.process(
            [try TransferInputs.debited(1, messageId: "reused"), try TransferInputs.debited(2)], on: connection, now: Self.now)
        #expect(try metrics.expectCounter("skald_pump_optimistic_conflicts_total").totalValue == 1)
        #expect(result.outcomes == [.duplicate(sagaId: "Transfer-1"), .applied(sagaId: "Transfer-2")])
        #expect(try await TestPostgres.count(url, "SELECT count(*)::bigint FROM sagas WHERE current_step = 'credit'") == 2)
        #expect(try await TestPostgres.count(url, "SELECT count(*)::bigint FROM sagas WHERE saga_id = 'Transfer-1' AND current_step = 'debit'") == 1)
        try await Self.expectLogsWhole(url)
    }

    @Test("a wake-up row the cache does not know of fails the short path's insert; under the locks it is set to the saga's earliest timer")
    func unknownWakeupIsRedoneUnderLocks() async throws {
        let (url, metrics, processor, connection) = try await Self.freshStore()
        defer { Task { await connection.close() } }
        // A row for saga 1 before it exists: one a hand-edited store, or a saga that existed
        // after all, could hold.
        let strayWake = Date(timeIntervalSince1970: 1_900_000_000)
        try await connection.query("INSERT INTO saga_wakeups (saga_id, wake_at) VALUES ('Transfer-1', \(strayWake))")

        let result = try await processor.process(try TransferInputs.start(0..<3), on: connection, now: Self.now)
        #expect(try metrics.expectCounter("skald_pump_optimistic_conflicts_total").totalValue == 1)
        #expect(result.outcomes.allSatisfy { if case .applied = $0 { true } else { false } })
        // Each saga's row says when its debit times out, which its `sagas` row mirrors.
        let debitTimeout = Self.now.addingTimeInterval(10)
        let wakeups = try await TestPostgres.strings(
            url,
            """
            SELECT w.saga_id || ' ' || (w.wake_at = \(debitTimeout))::text || ' ' || (s.wake_at = w.wake_at)::text
            FROM saga_wakeups w JOIN sagas s USING (saga_id) ORDER BY 1
            """)
        #expect(wakeups == ["Transfer-0 true true", "Transfer-1 true true", "Transfer-2 true true"])
        try await Self.expectLogsWhole(url)
    }

    @Test("a saga whose wake-up changed under the cache fails the short path's snapshot update; under the locks it keeps what the row says")
    func wakeupChangedUnderTheCacheIsRedoneUnderLocks() async throws {
        let (url, metrics, processor, connection) = try await Self.freshStore()
        defer { Task { await connection.close() } }
        _ = try await processor.process(try TransferInputs.start(0..<2), on: connection, now: Self.now)
        // What a timer service does without an event (here: saga 1's wake-up moved), which the
        // log cannot catch. The cache still says the debit timeout, ten seconds on. Seven
        // seconds on, the moved row is early but beyond the refresh horizon, so it stays.
        let moved = Self.now.addingTimeInterval(7)
        try await connection.query("UPDATE sagas SET wake_at = \(moved) WHERE saga_id = 'Transfer-1'")
        try await connection.query("UPDATE saga_wakeups SET wake_at = \(moved) WHERE saga_id = 'Transfer-1'")

        let result = try await processor.process(
            [try TransferInputs.debited(0), try TransferInputs.debited(1)], on: connection, now: Self.now)
        #expect(try metrics.expectCounter("skald_pump_optimistic_conflicts_total").totalValue == 1)
        #expect(result.outcomes == [.applied(sagaId: "Transfer-0"), .applied(sagaId: "Transfer-1")])
        // Saga 1's earlier wake-up stays (it is before the credit timeout); saga 0's row says its credit timeout.
        let creditTimeout = Self.now.addingTimeInterval(10)
        #expect(
            try await TestPostgres.strings(
                url,
                """
                SELECT w.saga_id || ' ' || (w.wake_at = \(moved))::text || ' ' || (w.wake_at = \(creditTimeout))::text
                       || ' ' || (s.wake_at = w.wake_at)::text || ' ' || s.current_step
                FROM saga_wakeups w JOIN sagas s USING (saga_id) ORDER BY 1
                """) == ["Transfer-0 false true true credit", "Transfer-1 true false true credit"])
        try await Self.expectLogsWhole(url)
    }

    @Test("a cached saga within a second of its wake-up goes under the row locks without trying the short path")
    func sagaNearItsWakeupTakesTheLocks() async throws {
        let (url, metrics, processor, connection) = try await Self.freshStore()
        defer { Task { await connection.close() } }
        _ = try await processor.process(try TransferInputs.start(0..<1), on: connection, now: Self.now)
        #expect(try metrics.expectCounter("skald_pump_optimistic_batches_total").totalValue == 1)
        // The debit timeout (and the wake-up) is ten seconds after the start: half a second before it.
        _ = try await processor.process([try TransferInputs.debited(0)], on: connection, now: Self.now.addingTimeInterval(9.5))
        #expect(try metrics.expectCounter("skald_pump_optimistic_batches_total").totalValue == 1)
        #expect(try metrics.expectCounter("skald_pump_optimistic_conflicts_total").totalValue == 0)
        #expect(try metrics.expectCounter("skald_pump_locked_batches_total", [("reason", "wake_up_near")]).totalValue == 1)
        #expect(try await TestPostgres.strings(url, "SELECT current_step FROM sagas") == ["credit"])
        try await Self.expectLogsWhole(url)
    }

    @Test("an early wake-up that comes near is moved on to the earliest timer by the saga's next transition, on the short path")
    func nearEarlyWakeupIsMovedOn() async throws {
        let (url, metrics, processor, connection) = try await Self.freshStore()
        defer { Task { await connection.close() } }
        _ = try await processor.process(try TransferInputs.start(0..<1), on: connection, now: Self.now)
        // The wake-up says the debit timeout, ten seconds after the start. The reply comes six
        // seconds on: the debit timeout goes, the credit timeout is armed sixteen seconds on,
        // and the wake-up, four seconds away, is early and near, so it moves.
        let replied = Self.now.addingTimeInterval(6)
        _ = try await processor.process([try TransferInputs.debited(0)], on: connection, now: replied)
        #expect(try metrics.expectCounter("skald_pump_optimistic_batches_total").totalValue == 2)
        #expect(try metrics.expectCounter("skald_pump_optimistic_conflicts_total").totalValue == 0)
        let creditTimeout = replied.addingTimeInterval(10)
        #expect(
            try await TestPostgres.strings(
                url,
                """
                SELECT (w.wake_at = \(creditTimeout))::text || ' ' || (s.wake_at = w.wake_at)::text || ' ' || s.current_step
                FROM saga_wakeups w JOIN sagas s USING (saga_id)
                """) == ["true true credit"])
        try await Self.expectLogsWhole(url)
    }

    @Test("a start of a saga type this process does not have takes the locks as an unregistered definition, and is unroutable there")
    func startOfUnregisteredTypeTakesTheLocks() async throws {
        let (_, metrics, processor, connection) = try await Self.freshStore()
        defer { Task { await connection.close() } }
        let envelope = MessageEnvelope(id: "start-nope", source: "test", type: StartTransfer.messageType)
        let payload = try SkaldJSON.encode(StartTransfer(transferId: "t0", amount: 10, declineDebit: false, declineCredit: false))
        let work = SagaWork(
            target: .start(sagaType: "NoSuchSaga", sagaId: "NoSuchSaga-0", businessKey: nil),
            input: .start(envelope: envelope, payload: payload), inboxId: envelope.id, source: "test")
        let result = try await processor.process([work], on: connection, now: Self.now)
        guard case .unroutable = result.outcomes.first else {
            Issue.record("expected unroutable, got \(result.outcomes)")
            return
        }
        #expect(try metrics.expectCounter("skald_pump_locked_batches_total", [("reason", "unregistered_definition")]).totalValue == 1)
        #expect(metrics.counters(label: "skald_pump_locked_batches_total", dimensions: [("reason", "uncached_saga")]).isEmpty)
    }

    @Test("a business key mapped to another saga fails the short path's mapping; under the locks the key keeps its saga")
    func mappedKeyIsRedoneUnderLocks() async throws {
        let (url, metrics, processor, connection) = try await Self.freshStore()
        defer { Task { await connection.close() } }
        _ = try await processor.process(try TransferInputs.start(0..<2), on: connection, now: Self.now)
        #expect(try metrics.expectCounter("skald_pump_optimistic_batches_total").totalValue == 1)

        // Saga 2 starts with saga 0's transfer id, its business key; saga 3 with its own.
        let result = try await processor.process(
            try TransferInputs.start(2..<4, transferId: { $0 == 2 ? "t0" : "t\($0)" }), on: connection, now: Self.now)
        #expect(try metrics.expectCounter("skald_pump_optimistic_conflicts_total").totalValue == 1)
        #expect(result.outcomes == [.applied(sagaId: "Transfer-2"), .applied(sagaId: "Transfer-3")])
        let mapped = try await TestPostgres.strings(
            url, "SELECT correlation_key || ' ' || saga_id FROM correlations ORDER BY correlation_key")
        #expect(mapped == ["t0 Transfer-0", "t1 Transfer-1", "t3 Transfer-3"])
        #expect(try await TestPostgres.count(url, "SELECT count(*)::bigint FROM sagas") == 4)
        try await Self.expectLogsWhole(url)
    }

    @Test("a start of a saga this process has not cached but that exists fails the log's key and is a duplicate; nothing doubled")
    func repeatedStartOfUncachedSagaIsADuplicate() async throws {
        let url = try await TestPostgres.freshStore("optimistic")
        let connection = try await PostgresConnection.connect(to: url)
        defer { Task { await connection.close() } }
        // Another orchestrator started sagas 0..<10 and moved half of them on.
        let other = SagaProcessor(registry: Self.registry)
        _ = try await other.process(try TransferInputs.start(0..<10), on: connection, now: Self.now)
        _ = try await other.process(try (0..<5).map { try TransferInputs.debited($0) }, on: connection, now: Self.now)
        let eventsBefore = try await TestPostgres.count(url, "SELECT count(*)::bigint FROM saga_events")
        let outboxBefore = try await TestPostgres.count(url, "SELECT count(*)::bigint FROM outbox")

        // The same starts under other message ids (the trigger event published twice), with
        // five sagas that are new: this processor, with nothing cached, takes all fifteen to be new.
        let metrics = TestMetrics()
        let processor = SagaProcessor(registry: Self.registry, metrics: OrchestratorMetrics(factory: metrics))
        let result = try await processor.process(
            try TransferInputs.start(0..<15, messagePrefix: "again-"), on: connection, now: Self.now)
        #expect(try metrics.expectCounter("skald_pump_optimistic_conflicts_total").totalValue == 1)
        #expect(try metrics.expectCounter("skald_pump_optimistic_batches_total").totalValue == 0)
        #expect(result.outcomes == (0..<10).map { .duplicate(sagaId: "Transfer-\($0)") } + (10..<15).map { .applied(sagaId: "Transfer-\($0)") })

        // Only the five new sagas wrote anything: their start events and first commands.
        let newEvents = try await TestPostgres.count(url, "SELECT count(*)::bigint FROM saga_events WHERE saga_id IN ('Transfer-10', 'Transfer-11', 'Transfer-12', 'Transfer-13', 'Transfer-14')")
        #expect(try await TestPostgres.count(url, "SELECT count(*)::bigint FROM saga_events") == eventsBefore + newEvents)
        #expect(try await TestPostgres.count(url, "SELECT count(*)::bigint FROM outbox") == outboxBefore + 5)
        #expect(try await TestPostgres.count(url, "SELECT count(*)::bigint FROM sagas WHERE current_step = 'credit'") == 5, "a moved-on saga was reset by its repeated start")
        try await Self.expectLogsWhole(url)

        // Now cached, the sagas take a start again as a duplicate without a round trip to fail.
        let third = try await processor.process(
            try TransferInputs.start(10..<15, messagePrefix: "third-"), on: connection, now: Self.now)
        #expect(third.outcomes == (10..<15).map { .duplicate(sagaId: "Transfer-\($0)") })
        #expect(try metrics.expectCounter("skald_pump_optimistic_batches_total").totalValue == 1)
        #expect(try metrics.expectCounter("skald_pump_optimistic_conflicts_total").totalValue == 1)
    }
}
