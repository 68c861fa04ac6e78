import Foundation
import Skald
import SkaldExamples
import SkaldKafka
import SkaldPostgres
import Testing

/// Real `skald serve` processes, killed with SIGKILL while PlaceOrder sagas run.
@Suite("Orchestrator processes: crashes and scale-out", .serialized)
struct CrashSafetyTests {
    /// Every saga's status, by order number.
    private func statuses(_ url: String) async throws -> [Int: String] {
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
    private func verify(_ url: String, orders: Range<Int>, participants: InstantParticipants) async throws {
        let statuses = try await statuses(url)
        #expect(statuses.count == orders.count, "sagas lost or extra: \(statuses.count) of \(orders.count)")
        for number in orders {
            let order = "order-\(number)"
            let ledger = ["create", "reserve", "pay", "confirm", "notify", "release", "refund", "cancel"]
                .map { participants.effects(order, $0) }
            switch InstantParticipants.Fate(order: number) {
            case .completes:
                #expect(statuses[number] == "completed", "\(order)")
                #expect(ledger == [1, 1, 1, 1, 1, 0, 0, 0], "\(order)")
            case .outOfStock:
                #expect(statuses[number] == "compensated", "\(order)")
                #expect(ledger == [1, 0, 0, 0, 0, 0, 0, 1], "\(order)")
            case .paymentDeclined:
                #expect(statuses[number] == "compensated", "\(order)")
                #expect(ledger == [1, 1, 0, 0, 0, 1, 0, 1], "\(order)")
            }
        }
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
            try await count(url, "SELECT count(*)::bigint FROM outbox") == 0
        }
    }

    @Test("SIGKILL at random moments: no saga lost, no effect duplicated, all terminal")
    func survivesKills() async throws {
        let url = try await freshStore()
        let cluster = try placeOrderCluster()
        defer { cluster.shutdown() }
        let participants = InstantParticipants()
        let kafka = mockKafka(cluster.bootstrapServers)
        let participating = Task { try await participants.run(kafka: kafka, group: "participants", logger: e2eLogger) }
        defer { participating.cancel() }

        let orchestrator = OrchestratorProcess(postgresURL: url, bootstrap: cluster.bootstrapServers)
        try orchestrator.start()
        let orders = 0..<1_000
        var kills = 0
        for wave in 0..<5 {
            try await publishOrders(wave * 200..<(wave + 1) * 200, bootstrap: cluster.bootstrapServers)
            try await Task.sleep(for: .milliseconds(Int.random(in: 300...2_500)))
            orchestrator.kill()
            kills += 1
            try orchestrator.start()
        }
        #expect(kills >= 5)
        try await eventually("every saga terminal", timeout: .seconds(300)) {
            try await count(url, "SELECT count(*)::bigint FROM sagas WHERE status IN ('completed', 'compensated')")
                == orders.count
        }
        try await verify(url, orders: orders, participants: participants)
        #expect(orchestrator.terminate() == 0, "serve did not exit cleanly on SIGTERM:\n\(orchestrator.log.suffix(2_000))")
    }

    @Test("two orchestrator processes share the work; when one dies the other finishes every saga")
    func scaleOutAndTakeOver() async throws {
        let url = try await freshStore()
        let cluster = try placeOrderCluster()
        defer { cluster.shutdown() }
        let participants = InstantParticipants()
        let kafka = mockKafka(cluster.bootstrapServers)
        let participating = Task { try await participants.run(kafka: kafka, group: "participants", logger: e2eLogger) }
        defer { participating.cancel() }

        let first = OrchestratorProcess(postgresURL: url, bootstrap: cluster.bootstrapServers)
        let second = OrchestratorProcess(postgresURL: url, bootstrap: cluster.bootstrapServers)
        try first.start()
        try second.start()
        let orders = 0..<600
        try await publishOrders(0..<300, bootstrap: cluster.bootstrapServers)
        try await Task.sleep(for: .seconds(3))
        first.kill()
        try await publishOrders(300..<600, bootstrap: cluster.bootstrapServers)
        try await eventually("every saga terminal with one survivor", timeout: .seconds(300)) {
            try await count(url, "SELECT count(*)::bigint FROM sagas WHERE status IN ('completed', 'compensated')")
                == orders.count
        }
        try await verify(url, orders: orders, participants: participants)
        #expect(second.terminate() == 0, "serve did not exit cleanly on SIGTERM:\n\(second.log.suffix(2_000))")
    }
}
