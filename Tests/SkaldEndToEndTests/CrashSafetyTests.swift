import Foundation
import Skald
import SkaldExamples
import SkaldKafka
import SkaldPostgres
import SkaldTestSupport
import Testing

/// Real `skald serve` processes, killed with SIGKILL while PlaceOrder sagas run.
@Suite("Orchestrator processes: crashes and scale-out", .serialized)
struct CrashSafetyTests {
    @Test("SIGKILL at random moments: no saga lost, no effect duplicated, all terminal")
    func survivesKills() async throws {
        let url = try await TestPostgres.freshStore("e2e")
        let cluster = try placeOrderCluster()
        defer { cluster.shutdown() }
        let participants = InstantParticipants()
        let kafka = mockKafka(cluster.bootstrapServers)
        let participating = Task { try await participants.run(kafka: kafka, group: "participants", logger: e2eLogger) }
        defer { participating.cancel() }

        let orchestrator = SkaldProcess.orchestrator(postgresURL: url, bootstrap: cluster.bootstrapServers)
        try orchestrator.start()
        let orders = 0..<1_000
        var kills = 0
        for wave in 0..<5 {
            try await publishOrders(wave * 200..<(wave + 1) * 200, bootstrap: cluster.bootstrapServers)
            try await Task.sleep(for: .milliseconds(Int.random(in: 300...2_500)))
            await orchestrator.kill()
            kills += 1
            try orchestrator.start()
        }
        #expect(kills >= 5)
        try await eventually("every saga terminal", timeout: .seconds(300)) {
            try await TestPostgres.count(url, "SELECT count(*)::bigint FROM sagas WHERE status IN ('completed', 'compensated')")
                == orders.count
        }
        try await verifyPlaceOrderRun(url, orders: orders, participants: participants)
        try await expectOrderBoardAgrees(url, sagas: orders.count)
        #expect(await orchestrator.terminate() == 0, "serve did not exit cleanly on SIGTERM:\n\(orchestrator.log.suffix(2_000))")
    }

    @Test("two orchestrator processes share the work; when one dies the other finishes every saga")
    func scaleOutAndTakeOver() async throws {
        let url = try await TestPostgres.freshStore("e2e")
        let cluster = try placeOrderCluster()
        defer { cluster.shutdown() }
        let participants = InstantParticipants()
        let kafka = mockKafka(cluster.bootstrapServers)
        let participating = Task { try await participants.run(kafka: kafka, group: "participants", logger: e2eLogger) }
        defer { participating.cancel() }

        let first = SkaldProcess.orchestrator(postgresURL: url, bootstrap: cluster.bootstrapServers)
        let second = SkaldProcess.orchestrator(postgresURL: url, bootstrap: cluster.bootstrapServers)
        try first.start()
        try second.start()
        let orders = 0..<600
        try await publishOrders(0..<300, bootstrap: cluster.bootstrapServers)
        // Their relays share the outbox lanes, eight each (the lane locks' keys: the schema's
        // hash and 0x534B0100 + lane, as `LaneOwnership` takes them).
        try await eventually("each relay holds eight lanes", timeout: .seconds(30)) {
            try await TestPostgres.count(
                url,
                """
                SELECT count(*)::bigint FROM (
                    SELECT pid FROM pg_locks
                    WHERE locktype = 'advisory' AND granted AND objsubid = 2
                      AND classid = (hashtext(current_schema())::bigint & 4294967295)::oid
                      AND objid::bigint BETWEEN 1397424384 AND 1397424399
                    GROUP BY pid HAVING count(*) = 8) shares
                """) == 2
        }
        try await Task.sleep(for: .seconds(1))
        await first.kill()
        try await publishOrders(300..<600, bootstrap: cluster.bootstrapServers)
        try await eventually("every saga terminal with one survivor", timeout: .seconds(300)) {
            try await TestPostgres.count(url, "SELECT count(*)::bigint FROM sagas WHERE status IN ('completed', 'compensated')")
                == orders.count
        }
        try await verifyPlaceOrderRun(url, orders: orders, participants: participants)
        // Both processes ran the order-board projection in one consumer group; the survivor took over.
        try await expectOrderBoardAgrees(url, sagas: orders.count)
        #expect(await second.terminate() == 0, "serve did not exit cleanly on SIGTERM:\n\(second.log.suffix(2_000))")
    }
}
