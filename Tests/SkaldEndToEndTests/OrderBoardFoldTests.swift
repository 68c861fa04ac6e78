import Foundation
import Skald
import SkaldExamples
import SkaldPostgres
import SkaldRuntime
import SkaldTestSupport
import Testing

@Suite("The order board: a saga's events folded (one INSERT from its start, an UPDATE for a later run) give the row the events one by one give")
struct OrderBoardFoldTests {
    private static let steps = ["create-order", "reserve-inventory", "process-payment", "confirm-order", "notify-customer"]

    /// A random history: the start, then events of every kind the board reads, on a few steps, so
    /// that operators' skips and late successes sometimes meet the step that is stuck and sometimes not.
    private static func history(_ sagaId: String, using generator: inout SplitMix64) throws -> [ProjectedEvent] {
        let state = try JSONDecoder().decode(
            PlaceOrderState.self,
            from: Data(#"{"orderId": "\#(sagaId)", "customerId": "c-1", "lines": [], "amountCents": 1234}"#.utf8))
        var time = Date(timeIntervalSince1970: 1_795_000_000)
        var events = [SagaEvent(sequence: 1, time: time, kind: .started(trigger: "PlaceOrderRequest", state: Payload(state), deadline: nil))]
        let payload = Payload(JSONValue.object([:]))
        for sequence in 2...Int.random(in: 2...24, using: &generator) {
            time += Double(Int.random(in: 1...900, using: &generator)) / 1000
            let step = StepRef(name: steps.randomElement(using: &generator)!, index: 0)
            let compensating = Bool.random(using: &generator)
            let kinds: [SagaEvent.Kind] = [
                .stepCommandSent(step: step, attempt: 1, commandId: "c"),
                .stepSucceeded(step: step, attempt: 1, reply: "com.example.X", messageId: "m", payload: payload),
                .stepFailed(step: step, attempt: 1, reply: "com.example.payments.PaymentDeclined", messageId: "m", payload: payload),
                .stepTimedOut(step: step, attempt: 1),
                .stepSkippedByOperator(step: step, actor: "ops"),
                .compensationStarted(reason: .stepFailed, step: step),
                .compensationSent(step: step, attempt: 1, commandId: "c"),
                .compensationSucceeded(step: step, attempt: 1, reply: "com.example.Y", messageId: "m"),
                .compensationSkippedByOperator(step: step, actor: "ops"),
                .failedNeedsOperator(step: step, compensating: compensating, reason: "kept failing"),
                .failedNeedsOperator(step: step, compensating: compensating, reason: "kept failing"),
                .retryRequested(step: step, compensating: compensating, actor: "ops"),
                .completed,
                .compensated,
            ]
            events.append(SagaEvent(sequence: sequence, time: time, kind: kinds.randomElement(using: &generator)!))
        }
        return events.map { ProjectedEvent(sagaId: sagaId, sagaType: "PlaceOrder", definitionVersion: 1, businessKey: sagaId, event: $0) }
    }

    @Test("600 random histories: every column alike, the sequence and times included")
    func foldedEqualsStepwise() async throws {
        let url = try await TestPostgres.freshSchema("board").url
        let connection = try await PostgresConnection.connect(to: url)
        let board = OrderBoardProjection()
        for statement in board.setUp { _ = try await connection.query(statement) }
        var generator = SplitMix64(seed: 20261126)
        var folded = 0
        for index in 0..<600 {
            let stepwise = try Self.history("one-by-one-\(index)", using: &generator)
            let together = stepwise.map {
                ProjectedEvent(sagaId: "folded-\(index)", sagaType: $0.sagaType, definitionVersion: 1, businessKey: $0.businessKey, event: $0.event)
            }
            for event in stepwise {
                for statement in try board.statements(for: event) { _ = try await connection.query(statement) }
            }
            if index % 2 == 0 {
                let statements = try board.statements(forEventsOf: together)
                #expect(statements.count == 1, "one INSERT for a history from its start")
                folded += statements.count
                for statement in statements { _ = try await connection.query(statement) }
            } else {
                // As a runner's batches cut it: the first chunk from the start, then later ones.
                var rest = together[...]
                while !rest.isEmpty {
                    let chunk = rest.prefix(Int.random(in: 1...6, using: &generator))
                    rest = rest.dropFirst(chunk.count)
                    let statements = try board.statements(forEventsOf: Array(chunk))
                    #expect(statements.count <= chunk.count)
                    for statement in statements { _ = try await connection.query(statement) }
                }
                folded += 1
            }
        }
        #expect(folded == 600)
        // Every column but the saga id (and the order id, which the histories take from it).
        let differing = try await connection.query(
            """
            SELECT a.saga_id FROM order_board a JOIN order_board b ON b.saga_id = 'folded-' || substr(a.saga_id, 12)
            WHERE a.saga_id LIKE 'one-by-one-%' AND (
                a.customer_id, a.amount_cents, a.status, a.step, a.failure, a.stuck_step, a.stuck_compensating,
                a.placed_at, a.finished_at, a.updated_at, a.last_sequence
            ) IS DISTINCT FROM (
                b.customer_id, b.amount_cents, b.status, b.step, b.failure, b.stuck_step, b.stuck_compensating,
                b.placed_at, b.finished_at, b.updated_at, b.last_sequence)
            """
        ).decode(String.self)
        #expect(differing.isEmpty, "rows that differ: \(differing.prefix(5))")
        let pairs = try await connection.query(
            "SELECT count(*)::bigint FROM order_board a JOIN order_board b ON b.saga_id = 'folded-' || substr(a.saga_id, 12) WHERE a.saga_id LIKE 'one-by-one-%'"
        ).first?.decode(Int.self, at: 0)
        #expect(pairs == 600)
        // The histories reach the states the fold must get right: stuck, and unstuck by a late reply.
        let stuck = try await connection.query(
            "SELECT count(*)::bigint FROM order_board WHERE saga_id LIKE 'folded-%' AND stuck_step IS NOT NULL"
        ).first?.decode(Int.self, at: 0) ?? 0
        #expect(stuck > 0)
        await connection.close()
    }

    @Test("a later run is one UPDATE, or one more for each unstick that reads what an earlier one computed")
    func laterRuns() throws {
        let projection = OrderBoardProjection()
        let step = StepRef(name: "reserve-inventory", index: 1)
        let payload = Payload(JSONValue.object([:]))
        func events(_ kinds: [SagaEvent.Kind]) -> [ProjectedEvent] {
            kinds.enumerated().map { offset, kind in
                ProjectedEvent(
                    sagaId: "s", sagaType: "PlaceOrder", definitionVersion: 1, businessKey: "s",
                    event: SagaEvent(sequence: 5 + offset, time: Date(timeIntervalSince1970: Double(offset)), kind: kind))
            }
        }
        let succeeded = SagaEvent.Kind.stepSucceeded(step: step, attempt: 1, reply: "r", messageId: "m", payload: payload)
        let sent = SagaEvent.Kind.stepCommandSent(step: step, attempt: 1, commandId: "c")
        let steady = try projection.statements(forEventsOf: events([succeeded, sent]))
        #expect(steady.count == 1)
        #expect(steady.first?.sql.hasPrefix("UPDATE order_board SET") == true)
        let twoUnsticks = try projection.statements(forEventsOf: events([succeeded, sent, succeeded, sent]))
        #expect(twoUnsticks.count == 2)
        let stuckBetween = try projection.statements(
            forEventsOf: events([succeeded, .failedNeedsOperator(step: step, compensating: false, reason: "x"), succeeded]))
        #expect(stuckBetween.count == 1, "the second unstick reads the stuck step the fold set, a parameter")
    }
}
