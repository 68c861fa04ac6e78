import Foundation
import Skald
import SkaldExamples
import SkaldPostgres
import SkaldRuntime
import SkaldTestSupport
import Testing

/// Every saga's status, by order number.
func statuses(_ url: String) async throws -> [Int: String] {
    let connection = try await PostgresConnection.connect(to: url)
    defer { Task { await connection.close() } }
    var result: [Int: String] = [:]
    for row in try await connection.query("SELECT business_key, status FROM sagas") {
        let (key, status) = try row.decode((String, String).self)
        result[InstantParticipants.number(key)] = status
    }
    return result
}

/// Checks every saga against the participants' ledger and replays every log.
///
/// A saga whose log shows no timeout must have met the fate its order number gives it,
/// with exactly the expected effects. A saga that hit a timeout (a machine under load, an
/// orchestrator down for a while) may legitimately have compensated instead: it must
/// still leave no net effect, with every action that happened undone exactly once.
func verifyPlaceOrderRun(_ url: String, orders: Range<Int>, participants: InstantParticipants) async throws {
    let statuses = try await statuses(url)
    #expect(statuses.count == orders.count, "sagas lost or extra: \(statuses.count) of \(orders.count)")
    let timedOut = Set(
        try await TestPostgres.strings(
            url,
            "SELECT DISTINCT s.business_key FROM sagas s JOIN saga_events e USING (saga_id) WHERE e.event_type = 'step.timed-out'"
        ).map(InstantParticipants.number))
    for number in orders {
        let order = "order-\(number)"
        let ledger = ["create", "reserve", "pay", "confirm", "notify", "release", "refund", "cancel"]
            .map { participants.effects(order, $0) }
        let status = statuses[number]
        if timedOut.contains(number) && status == "compensated" {
            #expect(ledger[3] == 0 && ledger[4] == 0, "\(order) compensated after its pivot: \(ledger)")
            #expect(ledger[0] <= ledger[7] && ledger[1] <= ledger[5] && ledger[2] <= ledger[6], "\(order) left an effect: \(ledger)")
            continue
        }
        switch InstantParticipants.Fate(order: number) {
        case .completes:
            #expect(status == "completed", "\(order)")
            #expect(ledger == [1, 1, 1, 1, 1, 0, 0, 0], "\(order)")
        case .outOfStock:
            #expect(status == "compensated", "\(order)")
            #expect(ledger == [1, 0, 0, 0, 0, 0, 0, 1], "\(order)")
        case .paymentDeclined:
            #expect(status == "compensated", "\(order)")
            #expect(ledger == [1, 1, 0, 0, 0, 1, 0, 1], "\(order)")
        }
    }
    #expect(timedOut.count < orders.count / 2, "most sagas timed out: the run says little about crash safety")
    // The log of every saga replays against the definition with no divergence.
    let connection = try await PostgresConnection.connect(to: url)
    defer { Task { await connection.close() } }
    let rows = try await connection.query(
        "SELECT saga_id, event::text FROM saga_events ORDER BY saga_id, sequence")
    var logs: [String: [[UInt8]]] = [:]
    for row in rows {
        let (sagaId, event) = try row.decode((String, String).self)
        logs[sagaId, default: []].append(Array(event.utf8))
    }
    var diverged: [String] = []
    for (sagaId, log) in logs {
        let report = placeOrder.replayCheck(sagaId: sagaId, events: try placeOrder.decodeEvents(log))
        if !report.isCompatible { diverged.append("\(report)") }
    }
    #expect(diverged.isEmpty, "\(diverged.prefix(3))")
    try await eventually("the outbox drains", timeout: .seconds(60)) {
        try await TestPostgres.count(url, "SELECT count(*)::bigint FROM outbox") == 0
    }
}

/// The order-board read model (which every `skald serve` runs) has caught up with all `sagas`
/// PlaceOrder sagas of the store and agrees with each: every event applied once, whatever was killed.
///
/// Then a rebuild, which writes each saga's row from its whole log at once, must give the very
/// rows the runners built batch by batch, every column alike.
func expectOrderBoardAgrees(_ url: String, sagas: Int) async throws {
    let connection = try await PostgresConnection.connect(to: url)
    let board = try await OrderBoardCheck.awaitCaughtUp(on: connection, timeout: .seconds(120))
    #expect(board.isConsistent && board.sagas == sagas, "\(board)")
    let rowsQuery: PostgresQuery = "SELECT (b.*)::text FROM order_board b ORDER BY saga_id"
    let built = try await connection.query(rowsQuery).decode(String.self)
    var registry = SagaRegistry()
    try registry.register(placeOrder)
    let pool = PostgresPool(url: url, minimumConnections: 1, maximumConnections: 2)
    let rebuilt = try await ProjectionStore(pool: pool, registry: registry).rebuild(OrderBoardProjection())
    await pool.close()
    #expect(rebuilt.sagas == built.count)
    let rows = try await connection.query(rowsQuery).decode(String.self)
    await connection.close()
    #expect(rows.count == built.count)
    let differing = zip(built, rows).filter { $0 != $1 }
    #expect(differing.isEmpty, "rebuilt rows that differ from the runners' (built, rebuilt): \(differing.prefix(3))")
}
