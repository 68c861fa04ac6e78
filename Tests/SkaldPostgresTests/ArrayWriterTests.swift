import Foundation
import SkaldPostgres
import Testing

@Suite("Binary arrays (PostgresArrayWriter)")
struct ArrayWriterTests {
    /// One row of every element type, as `unnest` gives it back in text.
    struct Row: Equatable {
        var text: String?
        var json: String?
        var small: Int?
        var regular: Int?
        var big: Int?
        var time: Date?
        var flag: Bool?
    }

    static let unnestAll = """
        SELECT t, j::text, a, b, c, d, e
        FROM unnest($1::text[], $2::json[], $3::smallint[], $4::integer[], $5::bigint[], $6::timestamptz[], $7::boolean[])
          WITH ORDINALITY AS x(t, j, a, b, c, d, e, n)
        ORDER BY n
        """

    static func values(_ rows: [Row]) -> [PostgresValue] {
        var texts = PostgresArrayWriter(of: .text)
        var jsons = PostgresArrayWriter(of: .json)
        var smalls = PostgresArrayWriter(of: .int2)
        var regulars = PostgresArrayWriter(of: .int4)
        var bigs = PostgresArrayWriter(of: .int8)
        var times = PostgresArrayWriter(of: .timestamptz)
        var flags = PostgresArrayWriter(of: .bool)
        for row in rows {
            texts.append(row.text)
            if let json = row.json { jsons.append(utf8: Array(json.utf8)) } else { jsons.appendNull() }
            smalls.append(row.small)
            regulars.append(row.regular)
            bigs.append(row.big)
            times.append(row.time)
            flags.append(row.flag)
        }
        return [texts.value, jsons.value, smalls.value, regulars.value, bigs.value, times.value, flags.value]
    }

    static func roundTrip(_ rows: [Row], on connection: PostgresConnection) async throws -> [Row] {
        try await connection.query(PostgresQuery(unnestAll, values(rows))).map { row in
            Row(
                text: try row.decode(String?.self, at: 0), json: try row.decode(String?.self, at: 1),
                small: try row.decode(Int?.self, at: 2), regular: try row.decode(Int?.self, at: 3),
                big: try row.decode(Int?.self, at: 4), time: try row.decode(Date?.self, at: 5),
                flag: try row.decode(Bool?.self, at: 6))
        }
    }

    @Test func everyElementTypeAndNull() async throws {
        let rows = [
            Row(
                text: "emoji 🎉 漢字 quotes ' \" \\ {a,b} NULL", json: #"{"a": [1, "x\"y"], "b": null}"#,
                small: Int(Int16.min), regular: Int(Int32.max), big: Int.min,
                time: Date(timeIntervalSince1970: 1_700_000_000.123_456), flag: true),
            Row(text: "", json: "[]", small: 0, regular: -1, big: Int.max, time: Date(timeIntervalSince1970: -1_000_000_000.5), flag: false),
            Row(text: nil, json: nil, small: nil, regular: nil, big: nil, time: nil, flag: nil),
        ]
        try await TestDatabase.withConnection { connection async throws in
            #expect(try await Self.roundTrip(rows, on: connection) == rows)
        }
    }

    @Test func randomRowsRoundTrip() async throws {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("aZ9 ,{}\"\\'\n\té漢🎉")
        let rows = (0..<2_000).map { _ in
            Row(
                text: Bool.random(using: &generator)
                    ? String((0..<Int.random(in: 0...40, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! })
                    : nil,
                json: Bool.random(using: &generator) ? "\(Int.random(in: -1_000...1_000, using: &generator))" : nil,
                small: Int.random(in: Int(Int16.min)...Int(Int16.max), using: &generator),
                regular: Int.random(in: Int(Int32.min)...Int(Int32.max), using: &generator),
                big: Int.random(in: Int.min...Int.max, using: &generator),
                // Whole microseconds, as the engine writes them: Postgres keeps exactly those.
                time: Date(timeIntervalSince1970: Double(Int.random(in: -2_000_000_000_000_000...4_000_000_000_000_000, using: &generator)) / 1_000_000),
                flag: Bool.random(using: &generator) ? Bool.random(using: &generator) : nil)
        }
        try await TestDatabase.withConnection { connection async throws in
            let back = try await Self.roundTrip(rows, on: connection)
            #expect(back.count == rows.count)
            for (sent, received) in zip(rows, back) where sent != received {
                Issue.record("sent \(sent), received \(received)")
                break
            }
        }
    }

    @Test func emptyArray() async throws {
        try await TestDatabase.withConnection { connection async throws in
            let row = try #require(try await connection.query(PostgresQuery(
                "SELECT cardinality($1::text[]), cardinality($2::integer[])",
                [PostgresArrayWriter(of: .text).value, PostgresArrayWriter(of: .int4).value])).first)
            #expect(try row.decode(Int.self, at: 0) == 0)
            #expect(try row.decode(Int.self, at: 1) == 0)
        }
    }

    @Test func mixedWithTextParametersInAPipeline() async throws {
        try await TestDatabase.withConnection { connection async throws in
            var ids = PostgresArrayWriter(of: .text)
            for id in ["b", "a", "c"] { ids.append(id) }
            let results = try await connection.pipeline([
                PostgresQuery("SELECT string_agg(x, ',' ORDER BY x) || $2::text FROM unnest($1::text[]) x", [ids.value, PostgresValue("!")]),
                PostgresQuery("SELECT $1::text", [PostgresValue("plain")]),
            ])
            #expect(try results[0].first?.decode(String.self, at: 0) == "a,b,c!")
            #expect(try results[1].first?.decode(String.self, at: 0) == "plain")
        }
    }

    @Test("one SQL text bound with int4[] and then int8[] arrays: each gets a statement prepared for its types")
    func sameTextWithOtherElementTypes() async throws {
        try await TestDatabase.withConnection { connection async throws in
            let sql = "SELECT sum(x)::bigint FROM unnest($1::bigint[]) x"
            var small = PostgresArrayWriter(of: .int4)
            for value in [1, 2] { small.append(value) }
            var big = PostgresArrayWriter(of: .int8)
            for value in [3, 4_000_000_000] { big.append(value) }
            #expect(try await connection.query(PostgresQuery(sql, [small.value])).first?.decode(Int.self, at: 0) == 3)
            #expect(try await connection.query(PostgresQuery(sql, [big.value])).first?.decode(Int.self, at: 0) == 4_000_000_003)
            let piped = try await connection.pipeline([PostgresQuery(sql, [big.value]), PostgresQuery(sql, [small.value])])
            #expect(try piped.map { try $0.first?.decode(Int.self, at: 0) } == [4_000_000_003, 3])
        }
    }

    @Test("elements written in place are the elements append(utf8:) writes, between NULLs and other elements")
    func elementsWrittenInPlace() async throws {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("aZ9 ,{}\"\\'\n\té漢🎉")
        let values: [String?] = (0..<500).map { _ in
            Int.random(in: 0..<5, using: &generator) == 0
                ? nil
                : String((0..<Int.random(in: 0...60, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! })
        }
        var copied = PostgresArrayWriter(of: .text)
        var inPlace = PostgresArrayWriter(of: .text, capacity: 16)  // small, so writing in place grows it
        for value in values {
            if let value {
                copied.append(utf8: Array(value.utf8))
                inPlace.appendText { $0.append(contentsOf: value.utf8) }
            } else {
                copied.appendNull()
                inPlace.appendNull()
            }
        }
        #expect(inPlace.count == values.count)
        #expect(inPlace.value == copied.value)
        try await TestDatabase.withConnection { connection async throws in
            let rows = try await connection.query(PostgresQuery("SELECT x FROM unnest($1::text[]) WITH ORDINALITY AS t(x, n) ORDER BY n", [inPlace.value]))
            #expect(try rows.map { try $0.decode(String?.self, at: 0) } == values)
        }
    }

    /// Binding `texts`, whose second element held a NUL byte, fails before anything is sent.
    private static func expectSecondElementRefusedForNul(_ texts: PostgresArrayWriter, on connection: PostgresConnection) async {
        let error = await expectPostgresError {
            try await connection.query(PostgresQuery("SELECT $1::text[]", [texts.value]))
        }
        #expect(error?.code == .unencodableValue)
        #expect(error?.message.contains("text[] element 2") == true)
        #expect(error?.message.contains("NUL") == true)
    }

    @Test func textWrittenInPlaceWithNulOrIntoANumberArrayIsRefused() async throws {
        try await TestDatabase.withConnection { connection async throws in
            var texts = PostgresArrayWriter(of: .text)
            texts.appendText { $0.append(contentsOf: "fine".utf8) }
            texts.appendText { $0.append(contentsOf: [UInt8(ascii: "a"), 0, UInt8(ascii: "b")]) }
            texts.appendText { $0.append(contentsOf: "after".utf8) }
            #expect(texts.count == 3)
            await Self.expectSecondElementRefusedForNul(texts, on: connection)

            var numbers = PostgresArrayWriter(of: .int4)
            numbers.appendText { $0.append(contentsOf: "7".utf8) }
            #expect(numbers.count == 1)
            let wrongType = await expectPostgresError {
                try await connection.query(PostgresQuery("SELECT $1::integer[]", [numbers.value]))
            }
            #expect(wrongType?.message.contains("a string is not a int4") == true)
        }
    }

    @Test func textWithNulIsRejectedBeforeSending() async throws {
        try await TestDatabase.withConnection { connection async throws in
            var texts = PostgresArrayWriter(of: .text)
            texts.append("fine")
            texts.append("a\u{0}b")
            // The refused element still counts: a statement's columns stay one element per row.
            #expect(texts.count == 2)
            await Self.expectSecondElementRefusedForNul(texts, on: connection)
            // Nothing was sent: the connection carries on.
            #expect(try await connection.query("SELECT 1").first?.decode(Int.self, at: 0) == 1)
        }
    }

    @Test func valuesTheElementTypeCannotHoldAreRefused() async throws {
        try await TestDatabase.withConnection { connection async throws in
            var small = PostgresArrayWriter(of: .int2)
            small.append(40_000)
            let tooBig = await expectPostgresError {
                try await connection.query(PostgresQuery("SELECT $1::smallint[]", [small.value]))
            }
            #expect(tooBig?.message.contains("40000 does not fit a smallint") == true)

            var numbers = PostgresArrayWriter(of: .int4)
            numbers.append("seven")
            let wrongType = await expectPostgresError {
                try await connection.query(PostgresQuery("SELECT $1::integer[]", [numbers.value]))
            }
            #expect(wrongType?.message.contains("a string is not a int4") == true)

            // Microseconds that fit an Int64 but not once moved to Postgres's epoch of 2000.
            var times = PostgresArrayWriter(of: .timestamptz)
            times.append(Date(timeIntervalSince1970: -9_222_800_000_000))
            let outOfRange = await expectPostgresError {
                try await connection.query(PostgresQuery("SELECT $1::timestamptz[]", [times.value]))
            }
            #expect(outOfRange?.message.contains("out of a timestamptz's range") == true)
        }
    }

    @Test func invalidJSONIsRefusedByTheServer() async throws {
        try await TestDatabase.withConnection { connection async throws in
            var documents = PostgresArrayWriter(of: .json)
            documents.append(utf8: Array(#"{"unterminated": "#.utf8))
            let error = await expectPostgresError {
                try await connection.query(PostgresQuery("SELECT $1::json[]", [documents.value]))
            }
            #expect(error?.message.lowercased().contains("json") == true)
            #expect(try await connection.query("SELECT 1").first?.decode(Int.self, at: 0) == 1)
        }
    }
}
