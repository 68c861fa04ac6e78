import Foundation
import SkaldPostgres
import Synchronization
import Testing

@Suite("Transactions")
struct TransactionTests {
    struct Abort: Error {}

    static func makeTable(_ connection: PostgresConnection, _ prefix: String) async throws -> String {
        let table = TestDatabase.uniqueName(prefix)
        try await connection.query("CREATE TABLE \(identifier: table) (id int PRIMARY KEY, value text NOT NULL)")
        return table
    }

    @Test func commitsWhenTheBodySucceeds() async throws {
        try await TestDatabase.withConnection { connection async throws in
            let table = try await Self.makeTable(connection, "tx_commit")
            let result = try await connection.withTransaction { tx in
                try await tx.query("INSERT INTO \(identifier: table) VALUES (\(1), \("one"))")
                return "done"
            }
            #expect(result == "done")
            #expect(try await connection.query("SELECT count(*) FROM \(identifier: table)").first?.decode(Int.self, at: 0) == 1)
            #expect(await connection.isInTransaction == false)
        }
    }

    @Test func aSwallowedStatementErrorIsNotReportedAsACommit() async throws {
        try await TestDatabase.withConnection { connection async throws in
            let table = try await Self.makeTable(connection, "tx_swallowed")
            let error = await #expect(throws: PostgresError.self) {
                try await connection.withTransaction { tx in
                    try await tx.query("INSERT INTO \(identifier: table) VALUES (\(1), \("one"))")
                    // A caller that catches a failed statement and carries on.
                    _ = try? await tx.query("INSERT INTO \(identifier: table) VALUES (\(1), \("duplicate"))")
                }
            }
            #expect(error?.message.contains("rolled back") == true)
            #expect(try await connection.query("SELECT count(*) FROM \(identifier: table)").first?.decode(Int.self, at: 0) == 0)
            #expect(await connection.isInTransaction == false)
        }
    }

    @Test func aTransactionalPipelineIsRefusedInsideATransaction() async throws {
        try await TestDatabase.withConnection { connection async throws in
            let table = try await Self.makeTable(connection, "tx_nested_pipeline")
            let error = await #expect(throws: PostgresError.self) {
                try await connection.withTransaction { tx in
                    try await tx.pipelineTransaction(["INSERT INTO \(identifier: table) VALUES (\(1), \("one"))"])
                }
            }
            #expect(error?.code == .invalidArgument)
            #expect(try await connection.query("SELECT count(*) FROM \(identifier: table)").first?.decode(Int.self, at: 0) == 0)
        }
    }

    @Test func rollsBackWhenTheBodyThrows() async throws {
        try await TestDatabase.withConnection { connection async throws in
            let table = try await Self.makeTable(connection, "tx_throw")
            await #expect(throws: Abort.self) {
                try await connection.withTransaction { tx in
                    try await tx.query("INSERT INTO \(identifier: table) VALUES (\(1), \("one"))")
                    throw Abort()
                }
            }
            #expect(try await connection.query("SELECT count(*) FROM \(identifier: table)").first?.decode(Int.self, at: 0) == 0)
            #expect(await connection.isInTransaction == false)
        }
    }

    @Test func failingStatementRollsBackAndReportsSQLState() async throws {
        try await TestDatabase.withConnection { connection async throws in
            let table = try await Self.makeTable(connection, "tx_fail")
            let error = await expectPostgresError {
                try await connection.withTransaction { tx in
                    try await tx.query("INSERT INTO \(identifier: table) VALUES (\(1), \("one"))")
                    try await tx.query("INSERT INTO \(identifier: table) VALUES (\(1), \("duplicate"))")
                }
            }
            #expect(error?.sqlState == "23505")
            #expect(error?.code == .query)
            #expect(error?.statement?.contains("INSERT INTO") == true)
            #expect(error?.detail?.contains("(id)=(1)") == true)
            #expect(try await connection.query("SELECT count(*) FROM \(identifier: table)").first?.decode(Int.self, at: 0) == 0)
            #expect(await connection.isInTransaction == false)
        }
    }

    @Test func nestedTransactionIsRejected() async throws {
        try await TestDatabase.withConnection { connection async throws in
            let error = await expectPostgresError {
                try await connection.withTransaction { tx in
                    try await tx.withTransaction { _ in }
                }
            }
            #expect(error?.code == .invalidArgument)
            #expect(await connection.isInTransaction == false)
        }
    }

    /// Two SERIALIZABLE transactions with a write-skew conflict: each reads what the other
    /// writes. Both read before either writes (a barrier), so one must fail with 40001 and be re-run.
    @Test func serializationFailureIsRetried() async throws {
        let setup = try await TestDatabase.connect()
        let table = TestDatabase.uniqueName("tx_skew")
        try await setup.query("CREATE TABLE \(identifier: table) (class int NOT NULL, value int NOT NULL)")
        try await setup.query("INSERT INTO \(identifier: table) VALUES (1, 10), (2, 20)")

        let barrier = Barrier(parties: 2)
        let attempts = AttemptCounter()
        async let first = Self.transfer(table: table, reading: 1, writing: 2, barrier: barrier, attempts: attempts)
        async let second = Self.transfer(table: table, reading: 2, writing: 1, barrier: barrier, attempts: attempts)
        let (a, b) = try await (first, second)

        let totalAttempts = await attempts.total
        #expect(totalAttempts >= 3, "one transaction must have been re-run after 40001")
        // Serial outcome: whichever ran second saw the other's insert.
        #expect((a == 10 && b == 30) || (b == 20 && a == 30))
        let rows = try await setup.query("SELECT count(*) FROM \(identifier: table)").first?.decode(Int.self, at: 0)
        #expect(rows == 4)
        try await setup.query("DROP TABLE \(identifier: table)")
        await setup.close()
    }

    /// Reads the sum of one class and inserts it as a row of the other, in a retried SERIALIZABLE transaction.
    static func transfer(table: String, reading: Int, writing: Int, barrier: Barrier, attempts: AttemptCounter) async throws -> Int {
        let connection = try await TestDatabase.connect()
        let total = try await connection.withRetryingTransaction(isolation: .serializable, maxAttempts: 5) { tx in
            let attempt = await attempts.next()
            let sum = try #require(try await tx.query(
                "SELECT sum(value)::int8 FROM \(identifier: table) WHERE class = \(reading)"
            ).first).decode(Int.self, at: 0)
            // Only the first attempts meet, so both read before either writes.
            if attempt <= 2 { await barrier.arrive() }
            try await tx.query("INSERT INTO \(identifier: table) VALUES (\(writing), \(sum))")
            return sum
        }
        await connection.close()
        return total
    }

    @Test func nonRetryableErrorsAreNotRetried() async throws {
        try await TestDatabase.withConnection { connection async throws in
            let table = try await Self.makeTable(connection, "tx_noretry")
            let attempts = Mutex(0)
            let error = await expectPostgresError {
                try await connection.withRetryingTransaction { tx in
                    attempts.withLock { $0 += 1 }
                    try await tx.query("INSERT INTO \(identifier: table) VALUES (\(1), \("a")), (\(1), \("b"))")
                }
            }
            #expect(error?.sqlState == "23505")
            #expect(attempts.withLock { $0 } == 1)
        }
    }

    @Test func retryGivesUpAfterMaxAttempts() async throws {
        try await TestDatabase.withConnection { connection async throws in
            let attempts = Mutex(0)
            let error = await expectPostgresError {
                try await connection.withRetryingTransaction(maxAttempts: 3, initialBackoff: .milliseconds(1)) { tx in
                    attempts.withLock { $0 += 1 }
                    // Raise a genuine 40001 from the server.
                    try await tx.executeScript("DO $$ BEGIN RAISE EXCEPTION 'forced' USING ERRCODE = 'serialization_failure'; END $$")
                }
            }
            #expect(error?.isSerializationFailure == true)
            #expect(attempts.withLock { $0 } == 3)
        }
    }
}

/// Counts transaction attempts across tasks.
actor AttemptCounter {
    private(set) var total = 0
    func next() -> Int {
        total += 1
        return total
    }
}

/// Suspends callers until `parties` of them have arrived.
actor Barrier {
    private let parties: Int
    private var arrived = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(parties: Int) { self.parties = parties }

    func arrive() async {
        arrived += 1
        if arrived >= parties {
            waiting.forEach { $0.resume() }
            waiting.removeAll()
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }
}
