import Foundation
import SkaldPostgres
import Testing

@Suite("Bad input gives errors that name what was wrong")
struct ErrorTests {
    @Test func badSQLReportsSyntaxErrorAndStatement() async throws {
        try await TestDatabase.withConnection { connection async throws in
            let error = await expectPostgresError { try await connection.query("SELEKT 1") }
            #expect(error?.code == .query)
            #expect(error?.sqlState == "42601")
            #expect(error?.message.contains("SELEKT") == true)
            #expect(error?.statement == "SELEKT 1")
            // The connection stays usable after a statement error.
            #expect(try await connection.query("SELECT 1").first?.decode(Int.self, at: 0) == 1)
            #expect(!connection.isBroken)
        }
    }

    @Test func missingTableIsNamed() async throws {
        try await TestDatabase.withConnection { connection async throws in
            let table = TestDatabase.uniqueName("nowhere")
            let error = await expectPostgresError { try await connection.query("SELECT * FROM \(identifier: table) WHERE id = \(1)") }
            #expect(error?.sqlState == "42P01")
            #expect(error?.message.contains(table) == true)
            #expect(error?.description.contains(table) == true)
        }
    }

    @Test func wrongParameterCount() async throws {
        try await TestDatabase.withConnection { connection async throws in
            let error = await expectPostgresError {
                try await connection.query(PostgresQuery("SELECT $1::int + $2::int", [PostgresValue(1)]))
            }
            #expect(error?.code == .query)
            #expect(error?.message.contains("2") == true)
            #expect(error?.isConnectionLost == false)
            #expect(error?.statement == "SELECT $1::int + $2::int")
            #expect(try await connection.query("SELECT \(5)::int + \(6)::int").first?.decode(Int.self, at: 0) == 11)
        }
    }

    @Test func valueThatDoesNotDecodeNamesColumnTypeAndValue() async throws {
        try await TestDatabase.withConnection { connection async throws in
            let row = try #require(try await connection.query("SELECT 'forty-two'::text AS answer, NULL::int4 AS nothing, 3000000000::int8 AS big").first)
            let wrongType = await expectPostgresError { _ = try row.decode(Int.self, named: "answer") }
            #expect(wrongType?.code == .decoding)
            #expect(wrongType?.message.contains("\"answer\"") == true)
            #expect(wrongType?.message.contains("text") == true)
            #expect(wrongType?.message.contains("forty-two") == true)
            #expect(wrongType?.message.contains("Int") == true)

            let null = await expectPostgresError { _ = try row.decode(Int.self, at: 1) }
            #expect(null?.message.contains("NULL") == true)
            #expect(null?.message.contains("nothing") == true)

            let overflow = await expectPostgresError { _ = try row.decode(Int32.self, at: 2) }
            #expect(overflow?.message.contains("3000000000") == true)

            let missingColumn = await expectPostgresError { _ = try row.decode(Int.self, named: "missing") }
            #expect(missingColumn?.message.contains("missing") == true)
            #expect(missingColumn?.message.contains("answer") == true)

            let outOfRange = await expectPostgresError { _ = try row.decode(Int.self, at: 9) }
            #expect(outOfRange?.code == .decoding)

            let json = try #require(try await connection.query("SELECT '{\"a\":1}'::jsonb").first)
            let badJSON = await expectPostgresError { _ = try json.decodeJSON([String].self, at: 0) }
            #expect(badJSON?.code == .decoding)
            #expect(badJSON?.message.contains("jsonb") == true)
        }
    }

    @Test func malformedURL() async throws {
        let error = await expectPostgresError { _ = try await PostgresConnection.connect(to: "postgres://user:secret@[::1:nope/db") }
        #expect(error?.code == .connection)
        #expect(error?.message.contains("secret") == false)

        let conninfo = await expectPostgresError { _ = try await PostgresConnection.connect(to: "this is not a conninfo") }
        #expect(conninfo?.code == .connection)
        #expect(conninfo?.message.isEmpty == false)

        // Every spelling of a password stays out of the message.
        for target in [
            "host=127.0.0.1 port=1 sslpassword=first password=hunter2 connect_timeout=2",
            "host=127.0.0.1 port=1 password = 'two words' connect_timeout=2",
            "host=127.0.0.1 port=1 password='unterminated",
        ] {
            let error = await expectPostgresError { _ = try await PostgresConnection.connect(to: target) }
            #expect(error?.code == .connection)
            for secret in ["first", "hunter2", "two words", "unterminated"] {
                #expect(error?.message.contains(secret) == false, "\(error?.message ?? "")")
            }
        }
    }

    @Test func unreachableServer() async throws {
        // Port 1 on loopback refuses at once; a timeout bounds the unroutable case.
        let refused = await expectPostgresError {
            _ = try await PostgresConnection.connect(to: "postgres://postgres:pw@127.0.0.1:1/skald", connectTimeout: 2)
        }
        #expect(refused?.code == .connection)
        #expect(refused?.message.contains("127.0.0.1") == true)
        #expect(refused?.message.contains("pw@") == false)
    }

    @Test func unknownDatabase() async throws {
        let base = try TestDatabase.url()
        let url = base.replacingOccurrences(of: "/skald", with: "/\(TestDatabase.uniqueName("nodb"))")
        let error = await expectPostgresError { _ = try await PostgresConnection.connect(to: url) }
        #expect(error?.code == .connection)
        #expect(error?.message.contains("does not exist") == true)
    }

    @Test func closedConnection() async throws {
        let connection = try await TestDatabase.connect()
        await connection.close()
        let error = await expectPostgresError { try await connection.query("SELECT 1") }
        #expect(error?.code == .closed)
        #expect(connection.isBroken)
    }

    @Test func stringWithNulIsRejectedBeforeSending() async throws {
        try await TestDatabase.withConnection { connection async throws in
            let error = await expectPostgresError { try await connection.query("SELECT \("a\u{0}b")::text") }
            #expect(error?.code == .unencodableValue)
            #expect(error?.message.contains("NUL") == true)
        }
    }
}

@Suite("Prepared statements")
struct PreparedStatementTests {
    @Test func explicitPrepareAndExecute() async throws {
        try await TestDatabase.withConnection { connection async throws in
            let name = TestDatabase.uniqueName("stmt")
            try await connection.prepare(name: name, sql: "SELECT $1::int8 * 2, upper($2::text)")
            var bindings = PostgresBindings()
            bindings.append(21)
            bindings.append("straße")
            let row = try #require(try await connection.query(prepared: name, bindings).first)
            #expect(try row.decode(Int.self, at: 0) == 42)
            #expect(try row.decode(String.self, at: 1) == "STRASSE" || row.decode(String.self, at: 1) == "STRAßE")

            let duplicate = await expectPostgresError { try await connection.prepare(name: name, sql: "SELECT 1") }
            #expect(duplicate?.sqlState == "42P05")
            let unknown = await expectPostgresError { try await connection.query(prepared: TestDatabase.uniqueName("nope")) }
            #expect(unknown?.sqlState == "26000")
        }
    }

    @Test func cachedStatementsAreReused() async throws {
        try await TestDatabase.withConnection { connection async throws in
            for value in 0..<5 {
                #expect(try await connection.query("SELECT \(value)::int8 + 1").first?.decode(Int.self, at: 0) == value + 1)
            }
            let prepared = try await connection.query(
                "SELECT count(*) FROM pg_prepared_statements WHERE statement = \("SELECT $1::int8 + 1")"
            ).first?.decode(Int.self, at: 0)
            #expect(prepared == 1)
        }
    }
}

extension PreparedStatementTests {
    @Test func discardedStatementsArePreparedAgain() async throws {
        try await TestDatabase.withConnection { connection async throws in
            #expect(try await connection.query("SELECT \(1)::int8").first?.decode(Int.self, at: 0) == 1)
            try await connection.executeScript("DEALLOCATE ALL")
            // The first call reports the vanished statement; the next one re-prepares it.
            let error = await expectPostgresError { try await connection.query("SELECT \(2)::int8") }
            #expect(error?.sqlState == "26000")
            #expect(try await connection.query("SELECT \(3)::int8").first?.decode(Int.self, at: 0) == 3)
            let batch = try await connection.pipeline(["SELECT \(4)::int8"])
            #expect(try batch.first?.first?.decode(Int.self, at: 0) == 4)
        }
    }
}
