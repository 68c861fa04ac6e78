import Foundation
import SkaldPostgres
import SkaldTestSupport
import Testing

/// Restarts a private cluster (not the shared test server, which other tests are using).
@Suite("Server restart")
struct ServerRestartTests {
    @Test func poolReconnectsAfterTheServerRestarts() async throws {
        _ = try TestDatabase.url()  // the suite needs the test environment like every other
        let cluster = try await TestPostgres.PrivateCluster.start("restart")
        do {
            let pool = PostgresPool(url: cluster.url, maximumConnections: 2)
            async let a = pool.withConnection { try await $0.query("SELECT pg_sleep(0.05)").count }
            async let b = pool.withConnection { try await $0.query("SELECT pg_sleep(0.05)").count }
            _ = try await (a, b)
            #expect(await pool.statistics.idle == 2)

            try await cluster.restart()

            // Both idle connections died with the old server; the pool notices and reconnects.
            for value in 1...3 {
                let answer = try await pool.withConnection { try await $0.query("SELECT \(value)::int8").first?.decode(Int.self, at: 0) }
                #expect(answer == value)
            }
            await pool.close()
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }
}
