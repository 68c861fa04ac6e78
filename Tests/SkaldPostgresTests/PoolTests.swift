import Foundation
import SkaldPostgres
import Synchronization
import Testing

@Suite("Connection pool")
struct PoolTests {
    /// Terminates `pid` and waits until the server has really removed the backend.
    static func terminate(_ pid: Int32) async throws {
        try await TestDatabase.withConnection { admin async throws in
            let done = try #require(try await admin.query("SELECT pg_terminate_backend(\(pid))").first).decode(Bool.self, at: 0)
            #expect(done)
            for _ in 0..<200 {
                let alive = try await admin.query("SELECT 1 FROM pg_stat_activity WHERE pid = \(pid)").count
                if alive == 0 { return }
                try await Task.sleep(for: .milliseconds(10))
            }
            Issue.record("backend \(pid) did not exit after pg_terminate_backend")
        }
    }

    @Test func idleConnectionKilledIsReplaced() async throws {
        let pool = PostgresPool(url: try TestDatabase.url(), minimumConnections: 1, maximumConnections: 1)
        try await pool.warmUp()
        let firstPID = try await pool.withConnection { $0.backendPID }
        try await Self.terminate(firstPID)

        // The dead idle connection is detected before use: the next request just works.
        let (secondPID, answer) = try await pool.withConnection { connection async throws in
            (connection.backendPID, try await connection.query("SELECT \(41)::int8 + 1").first?.decode(Int.self, at: 0))
        }
        #expect(secondPID != firstPID)
        #expect(answer == 42)
        #expect(await pool.statistics.open == 1)
        await pool.close()
    }

    @Test func connectionKilledWhileBorrowedIsReplaced() async throws {
        let pool = PostgresPool(url: try TestDatabase.url(), maximumConnections: 1)
        let error = await expectPostgresError {
            try await pool.withConnection { connection async throws in
                try await Self.terminate(connection.backendPID)
                try await connection.query("SELECT \(1)::int8")
            }
        }
        #expect(error?.isConnectionLost == true)
        #expect(error?.code == .connectionLost)

        let value = try await pool.withConnection { connection async throws in
            try await connection.query("SELECT \(2)::int8").first?.decode(Int.self, at: 0)
        }
        #expect(value == 2)
        await pool.close()
    }

    @Test func pipelineOnAKilledConnectionReportsConnectionLost() async throws {
        let pool = PostgresPool(url: try TestDatabase.url(), maximumConnections: 1)
        let error = await expectPostgresError {
            try await pool.withConnection { connection async throws in
                try await Self.terminate(connection.backendPID)
                _ = try await connection.pipelineTransaction(["SELECT \(1)", "SELECT \(2)"])
            }
        }
        #expect(error?.isConnectionLost == true)
        let value = try await pool.withConnection { try await $0.pipeline(["SELECT \(3)::int8"]).first?.first?.decode(Int.self, at: 0) }
        #expect(value == 3)
        await pool.close()
    }

    @Test func waitersQueueWhenAllConnectionsAreBusy() async throws {
        let pool = PostgresPool(url: try TestDatabase.url(), maximumConnections: 3)
        let gauge = ConcurrencyGauge()
        try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<24 {
                group.addTask {
                    try await pool.withConnection { connection async throws in
                        await gauge.enter()
                        let value = try #require(try await connection.query("SELECT \(index)::int8 FROM pg_sleep(0.005)").first).decode(Int.self, at: 0)
                        await gauge.leave()
                        return value
                    }
                }
            }
            var seen = Set<Int>()
            for try await value in group { seen.insert(value) }
            #expect(seen == Set(0..<24))
        }
        #expect(await gauge.peak <= 3)
        let statistics = await pool.statistics
        #expect(statistics.open <= 3 && statistics.waiting == 0)
        await pool.close()
    }

    @Test func closedPoolRejectsRequests() async throws {
        let pool = PostgresPool(url: try TestDatabase.url(), maximumConnections: 2)
        _ = try await pool.withConnection { try await $0.query("SELECT 1") }
        await pool.close()
        let error = await expectPostgresError { try await pool.withConnection { _ in } }
        #expect(error?.code == .closed)
    }

    @Test func badURLFailsWarmUpClearly() async throws {
        let pool = PostgresPool(url: "postgres://postgres@127.0.0.1:1/skald?connect_timeout=2", minimumConnections: 1)
        let error = await expectPostgresError { try await pool.warmUp() }
        #expect(error?.code == .connection)
        #expect(await pool.statistics.open == 0)
    }

    @Test func transactionLeftOpenIsRolledBackOnReturn() async throws {
        let pool = PostgresPool(url: try TestDatabase.url(), maximumConnections: 1)
        _ = try await pool.withConnection { try await $0.query("BEGIN") }
        let inTransaction = try await pool.withConnection { await $0.isInTransaction }
        #expect(inTransaction == false)
        await pool.close()
    }
}

/// Tracks how many borrowers hold a connection at once.
actor ConcurrencyGauge {
    private var current = 0
    private(set) var peak = 0
    func enter() {
        current += 1
        peak = max(peak, current)
    }
    func leave() { current -= 1 }
}

extension PoolTests {
    @Test func cancelledWaiterStopsWaiting() async throws {
        let pool = PostgresPool(url: try TestDatabase.url(), maximumConnections: 1)
        let holding = Barrier(parties: 2)
        let release = Barrier(parties: 2)
        let holder = Task {
            try await pool.withConnection { _ in
                await holding.arrive()
                await release.arrive()
            }
        }
        await holding.arrive()
        let waiter = Task { try await pool.withConnection { _ in 1 } }
        while await pool.statistics.waiting == 0 { await Task.yield() }
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
        #expect(await pool.statistics.waiting == 0)
        await release.arrive()
        try await holder.value
        #expect(try await pool.withConnection { _ in 2 } == 2)
        await pool.close()
    }

    @Test("every new connection runs the session setup, including one that replaces a dead one")
    func sessionSetupOnEveryConnection() async throws {
        let pool = PostgresPool(
            url: try TestDatabase.url(), minimumConnections: 1, maximumConnections: 2,
            sessionSetup: ["SET enable_seqscan = off", "SET application_name = 'skald-pool-test'"])
        try await pool.warmUp()
        func settings() async throws -> [String] {
            try await pool.withConnection { connection in
                let row = try #require(try await connection.query(
                    "SELECT current_setting('enable_seqscan'), current_setting('application_name')").first)
                return [try row.decode(String.self, at: 0), try row.decode(String.self, at: 1)]
            }
        }
        #expect(try await settings() == ["off", "skald-pool-test"])
        try await Self.terminate(try await pool.withConnection { $0.backendPID })
        #expect(try await settings() == ["off", "skald-pool-test"])
        await pool.close()
    }

    @Test("a session setup that fails is the caller's error, and no connection stays open")
    func failingSessionSetup() async throws {
        let pool = PostgresPool(url: try TestDatabase.url(), maximumConnections: 1, sessionSetup: ["SET no_such_setting = 1"])
        await #expect(throws: PostgresError.self) { try await pool.withConnection { _ in 1 } }
        #expect(await pool.statistics.open == 0)
        await pool.close()
    }
}
