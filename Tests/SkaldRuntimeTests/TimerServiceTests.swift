import Foundation
import MetricsTestKit
import Skald
import SkaldPostgres
import SkaldRuntime
import SkaldTestSupport
import Testing

/// Timers fire exactly once, however many timer services race for them, while replies
/// for the same sagas are applied at the same time (the pump's lock order: saga, then timers).
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
        #expect(try await TestPostgres.count(url, "SELECT count(*)::bigint FROM timers WHERE due_at <= \(due)") == sagas)
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
                        if count == 0, try await TestPostgres.count(url, "SELECT count(*)::bigint FROM timers WHERE due_at <= \(due)") == 0 { break }
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
    }
}
