import Foundation
import SkaldPostgres
import Testing

@Suite("Pipeline mode")
struct PipelineTests {
    @Test func resultsComeBackInOrder() async throws {
        try await TestDatabase.withConnection { connection async throws in
            var queries: [PostgresQuery] = []
            for number in 0..<50 {
                queries.append("SELECT \(number)::int8 AS n, \("row \(number)") AS label")
            }
            queries.append("SELECT generate_series(1, 3)")
            let results = try await connection.pipeline(queries)
            #expect(results.count == 51)
            for number in 0..<50 {
                let row = try #require(results[number].first)
                #expect(try row.decode(Int.self, at: 0) == number)
                #expect(try row.decode(String.self, named: "label") == "row \(number)")
            }
            #expect(try results[50].decode(Int.self) == [1, 2, 3])
            // Run again: now every statement is already prepared.
            let again = try await connection.pipeline(queries)
            #expect(try again[49].first?.decode(Int.self, at: 0) == 49)
        }
    }

    @Test func transactionalBatchCommits() async throws {
        try await TestDatabase.withConnection { connection async throws in
            let table = TestDatabase.uniqueName("pipe_commit")
            try await connection.query("CREATE TABLE \(identifier: table) (id int PRIMARY KEY, steps int NOT NULL)")
            try await connection.query("INSERT INTO \(identifier: table) VALUES (1, 0)")
            var queries: [PostgresQuery] = []
            for _ in 0..<20 {
                queries.append("SELECT steps FROM \(identifier: table) WHERE id = \(1) FOR UPDATE")
                queries.append("UPDATE \(identifier: table) SET steps = steps + 1 WHERE id = \(1)")
            }
            let results = try await connection.pipelineTransaction(queries, isolation: .repeatableRead)
            #expect(results.count == 40)
            #expect(try results[38].first?.decode(Int.self, at: 0) == 19)
            #expect(results[39].affectedRows == 1)
            #expect(try await connection.query("SELECT steps FROM \(identifier: table)").first?.decode(Int.self, at: 0) == 20)
            #expect(await connection.isInTransaction == false)
            let affected = try await connection.pipelineTransactionDiscardingRows(Array(queries[0..<2]))
            #expect(affected == 2)
        }
    }

    @Test func failureMidBatchRollsBackAndNamesTheStatement() async throws {
        try await TestDatabase.withConnection { connection async throws in
            let table = TestDatabase.uniqueName("pipe_fail")
            try await connection.query("CREATE TABLE \(identifier: table) (id int PRIMARY KEY)")
            let queries: [PostgresQuery] = [
                "INSERT INTO \(identifier: table) VALUES (\(1))",
                "INSERT INTO \(identifier: table) VALUES (\(2))",
                "INSERT INTO \(identifier: table) VALUES (\(1))",
                "INSERT INTO \(identifier: table) VALUES (\(3))",
            ]
            let error = await expectPostgresError { _ = try await connection.pipelineTransaction(queries) }
            #expect(error?.code == .pipeline)
            #expect(error?.statementIndex == 2)
            #expect(error?.sqlState == "23505")
            #expect(error?.statement == queries[2].sql)
            #expect(try await connection.query("SELECT count(*) FROM \(identifier: table)").first?.decode(Int.self, at: 0) == 0)
            #expect(await connection.isInTransaction == false)

            // Without BEGIN … COMMIT, the batch is still one implicit transaction.
            let implicit = await expectPostgresError { _ = try await connection.pipeline(queries) }
            #expect(implicit?.statementIndex == 2)
            #expect(try await connection.query("SELECT count(*) FROM \(identifier: table)").first?.decode(Int.self, at: 0) == 0)

            // The connection is clean afterwards and the batch works once fixed.
            var fixed = queries
            fixed[2] = "INSERT INTO \(identifier: table) VALUES (\(4))"
            _ = try await connection.pipelineTransaction(fixed)
            #expect(try await connection.query("SELECT count(*) FROM \(identifier: table)").first?.decode(Int.self, at: 0) == 4)
        }
    }

    @Test func badStatementsInABatch() async throws {
        try await TestDatabase.withConnection { connection async throws in
            let syntax = await expectPostgresError {
                _ = try await connection.pipeline(["SELECT \(1)", "SELEC \(2)", "SELECT \(3)"])
            }
            #expect(syntax?.statementIndex == 1)
            #expect(syntax?.sqlState == "42601")

            let parameters = await expectPostgresError {
                _ = try await connection.pipeline(["SELECT \(1)", PostgresQuery("SELECT $1::int, $2::int", [PostgresValue(1)])])
            }
            #expect(parameters?.statementIndex == 1)
            #expect(parameters?.isConnectionLost == false)

            let missing = TestDatabase.uniqueName("pipe_missing")
            let table = await expectPostgresError {
                _ = try await connection.pipelineTransaction(["SELECT \(1)", "SELECT * FROM \(identifier: missing) WHERE id = \(1)"])
            }
            #expect(table?.statementIndex == 1)
            #expect(table?.sqlState == "42P01")
            #expect(table?.message.contains(missing) == true)

            #expect(try await connection.pipeline(["SELECT \(7)::int8"]).first?.first?.decode(Int.self, at: 0) == 7)
            #expect(try await connection.pipeline([]).isEmpty)
        }
    }
}
