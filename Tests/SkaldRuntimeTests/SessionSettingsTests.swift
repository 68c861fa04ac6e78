import Foundation
import Skald
import SkaldKafka
import SkaldPostgres
import SkaldRuntime
import SkaldTestSupport
import Testing

/// The orchestrator's connections price sequential scans out (`PumpStatements.sessionSettings`
/// says why); a setup statement that Postgres refuses would leave the pump without a connection.
@Suite("Orchestrator sessions: their settings")
struct SessionSettingsTests {
    @Test("every connection of the orchestrator's pool has sequential scans off")
    func orchestratorSessions() async throws {
        let url = try await TestPostgres.freshStore("session")
        var registry = SagaRegistry()
        try registry.register(transferSaga())
        let orchestrator = try Orchestrator(
            registry: registry,
            configuration: OrchestratorConfiguration(kafka: KafkaConfiguration(bootstrapServers: "127.0.0.1:1"), postgresURL: url),
            logger: runtimeTestLogger)
        let setting = try await orchestrator.pool.withConnection { connection in
            try #require(try await connection.query("SELECT current_setting('enable_seqscan')").first).decode(String.self, at: 0)
        }
        #expect(setting == "off")
        await orchestrator.pool.close()
    }
}
