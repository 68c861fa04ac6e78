import Foundation
import Skald
import SkaldExamples
import SkaldKafka
import SkaldPostgres
import SkaldTestSupport
import Testing

/// The infrastructure fails under a running orchestrator process: it must carry on.
@Suite("Orchestrator process: Kafka and Postgres outages", .serialized)
struct FaultToleranceTests {
    @Test("the broker down for 5 s and Postgres restarted mid-run: every saga ends, ledgers exact")
    func survivesOutages() async throws {
        _ = try TestPostgres.url()
        // A Postgres of this test's own: restarting the shared one would break the other tests.
        let postgres = try await TestPostgres.PrivateCluster.start("outage")
        do {
            let url = try await TestPostgres.freshStore("outage", in: postgres.url)
            // The mock in a process of its own, as for every test that takes its brokers down.
            let cluster = try await MockKafkaProcess.start()
            defer { cluster.stopNow() }
            let participants = InstantParticipants()
            let kafka = mockKafka(cluster.bootstrapServers)
            let participating = Task { try await participants.run(kafka: kafka, group: "participants", logger: e2eLogger) }
            defer { participating.cancel() }
            let orchestrator = SkaldProcess.orchestrator(postgresURL: url, bootstrap: cluster.bootstrapServers)
            try orchestrator.start()
            defer { orchestrator.killNow() }

            try await publishOrders(0..<200, bootstrap: cluster.bootstrapServers)
            try await Task.sleep(for: .seconds(2))
            try await cluster.setBrokersDown()
            try await Task.sleep(for: .seconds(5))
            try await cluster.setBrokersUp()

            try await publishOrders(200..<400, bootstrap: cluster.bootstrapServers)
            try await Task.sleep(for: .seconds(1))
            try await postgres.restart()

            try await publishOrders(400..<600, bootstrap: cluster.bootstrapServers)
            try await eventually("every saga terminal after the outages", timeout: .seconds(300), poll: .milliseconds(250)) {
                try await TestPostgres.count(
                    url, "SELECT count(*)::bigint FROM sagas WHERE status IN ('completed', 'compensated')") == 600
            }
            try await verifyPlaceOrderRun(url, orders: 0..<600, participants: participants)
            // The projection runner lived through the broker outage and the Postgres restart too.
            try await expectOrderBoardAgrees(url, sagas: 600)
            #expect(await orchestrator.terminate() == 0, "serve did not exit cleanly:\n\(orchestrator.log.suffix(2_000))")
            await cluster.stop()
        } catch {
            await postgres.stop()
            throw error
        }
        await postgres.stop()
    }
}
