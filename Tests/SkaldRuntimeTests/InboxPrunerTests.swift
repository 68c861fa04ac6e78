import Foundation
import Skald
import SkaldKafka
import SkaldPostgres
import SkaldRuntime
import SkaldTestSupport
import Testing

@Suite("Inbox pruning: ids older than the retention go, the rest stay")
struct InboxPrunerTests {
    /// Inserts `count` inbox rows received `age` ago (by Postgres's clock), ids `prefix-0`, `prefix-1`, ….
    private func insert(_ count: Int, prefix: String, age: String, into url: String) async throws {
        let connection = try await PostgresConnection.connect(to: url)
        try await connection.query(
            """
            INSERT INTO inbox (message_id, source, received_at)
            SELECT \(prefix) || '-' || n, 'test/0/' || n, now() - \(age)::interval FROM generate_series(0, \(count - 1)) AS n
            """
        )
        await connection.close()
    }

    private func ids(_ url: String) async throws -> Set<String> {
        Set(try await TestPostgres.strings(url, "SELECT message_id FROM inbox"))
    }

    @Test("expired rows are deleted a batch at a time, the oldest first; younger rows are kept")
    func expiredRowsOnly() async throws {
        let url = try await TestPostgres.freshStore("prune")
        try await insert(5, prefix: "old", age: "8 days", into: url)
        try await insert(2, prefix: "older", age: "30 days", into: url)
        try await insert(3, prefix: "young", age: "1 hour", into: url)
        // Just inside the retention: kept.
        try await insert(1, prefix: "edge", age: "6 days 23 hours", into: url)
        let pool = PostgresPool(url: url, maximumConnections: 2)
        let pruner = try InboxPruner(pool: pool, retention: .seconds(7 * 24 * 3600), batchSize: 2, logger: runtimeTestLogger)

        #expect(try await pruner.pruneBatch() == 2)
        // The oldest went first.
        #expect(try await ids(url).filter { $0.hasPrefix("older-") }.isEmpty)
        #expect(try await pruner.pruneExpired() == 5)
        #expect(try await ids(url) == ["young-0", "young-1", "young-2", "edge-0"])
        #expect(try await pruner.pruneExpired() == 0)
        await pool.close()
    }

    @Test("two pruners side by side delete every expired row exactly once")
    func concurrentPruners() async throws {
        let url = try await TestPostgres.freshStore("prune")
        try await insert(3_000, prefix: "old", age: "2 hours", into: url)
        try await insert(10, prefix: "young", age: "1 minute", into: url)
        let pool = PostgresPool(url: url, maximumConnections: 4)
        let first = try InboxPruner(pool: pool, retention: .seconds(3600), batchSize: 100, logger: runtimeTestLogger)
        let second = try InboxPruner(pool: pool, retention: .seconds(3600), batchSize: 100, logger: runtimeTestLogger)
        async let a = first.pruneExpired()
        async let b = second.pruneExpired()
        let deleted = try await a + b
        #expect(deleted == 3_000)
        #expect(try await ids(url).count == 10)
        await pool.close()
    }

    @Test("rows another transaction holds are skipped, not waited for")
    func lockedRowsAreSkipped() async throws {
        let url = try await TestPostgres.freshStore("prune")
        try await insert(2, prefix: "held", age: "10 days", into: url)
        try await insert(3, prefix: "free", age: "9 days", into: url)
        // Another instance's round, or a pump transaction, holds the two oldest rows.
        let holder = try await PostgresConnection.connect(to: url)
        try await holder.query("BEGIN")
        try await holder.query("SELECT message_id FROM inbox WHERE message_id LIKE 'held-%' FOR UPDATE")
        // Without SKIP LOCKED the pruner would wait for the holder's commit: the lock timeout
        // turns that wait into an error instead of a hung test.
        let pool = PostgresPool(url: url, maximumConnections: 1, sessionSetup: ["SET lock_timeout = '10s'"])
        let pruner = try InboxPruner(pool: pool, retention: .seconds(3600), batchSize: 2, logger: runtimeTestLogger)
        #expect(try await pruner.pruneExpired() == 3)
        #expect(try await ids(url) == ["held-0", "held-1"])
        try await holder.query("COMMIT")
        await holder.close()
        #expect(try await pruner.pruneExpired() == 2)
        await pool.close()
    }

    @Test("a retention that is not positive is refused, by the pruner and by the orchestrator")
    func nonPositiveRetention() throws {
        let pool = PostgresPool(url: "postgres://127.0.0.1:1/none")
        #expect(throws: SagaRuntimeError.self) { _ = try InboxPruner(pool: pool, retention: .zero) }
        #expect(throws: SagaRuntimeError.self) { _ = try InboxPruner(pool: pool, retention: .seconds(-5)) }
        #expect(throws: SagaRuntimeError.self) { _ = try InboxPruner(pool: pool, retention: .seconds(60), interval: .zero) }

        var registry = SagaRegistry()
        try registry.register(transferSaga())
        var configuration = OrchestratorConfiguration(
            kafka: KafkaConfiguration(bootstrapServers: "127.0.0.1:1"), postgresURL: "postgres://127.0.0.1:1/none")
        configuration.inboxRetention = .zero
        #expect {
            _ = try Orchestrator(registry: registry, configuration: configuration, logger: runtimeTestLogger)
        } throws: { error in
            "\(error)".contains("inbox retention must be positive")
        }
        // nil keeps ids forever: no pruner, no error.
        configuration.inboxRetention = nil
        _ = try Orchestrator(registry: registry, configuration: configuration, logger: runtimeTestLogger)
    }
}
