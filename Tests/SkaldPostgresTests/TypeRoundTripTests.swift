import Foundation
import SkaldPostgres
import Testing

@Suite("Types round-trip through Postgres")
struct TypeRoundTripTests {
    struct Order: Codable, Sendable, Equatable {
        var id: Int
        var items: [String]
        var note: String?
        var total: Double
    }

    @Test func integersAndBooleans() async throws {
        try await TestDatabase.withConnection { connection async throws in
            let row = try #require(try await connection.query(
                "SELECT \(Int.max)::int8, \(Int32.min)::int4, \(Int64(-42))::int8, \(Int16(7))::int2, \(true)::bool, \(false)::bool, \(Int(0))"
            ).first)
            #expect(try row.decode(Int.self, at: 0) == Int.max)
            #expect(try row.decode(Int32.self, at: 1) == Int32.min)
            #expect(try row.decode(Int64.self, at: 2) == -42)
            #expect(try row.decode(Int16.self, at: 3) == 7)
            #expect(try row.decode(Bool.self, at: 4) == true)
            #expect(try row.decode(Bool.self, at: 5) == false)
            #expect(try row.decode(Int.self, at: 6) == 0)
        }
    }

    @Test(arguments: ["", "plain ascii", "emoji 🎉👩‍👩‍👧‍👦", "CJK 漢字かな한국어", "quotes ' \" \\ $1 ;--", "newline\nand\ttab"])
    func strings(_ text: String) async throws {
        try await TestDatabase.withConnection { connection async throws in
            let rows = try await connection.query("SELECT \(text)::text AS value, length(\(text)::text)")
            let row = try #require(rows.first)
            #expect(try row.decode(String.self, named: "value") == text)
            #expect(try row.decode(Int.self, at: 1) == text.unicodeScalars.count)
        }
    }

    @Test func floatingPoint() async throws {
        try await TestDatabase.withConnection { connection async throws in
            let values: [Double] = [0, -1.5, .pi, 1e-300, 123_456_789.123_456_78, .infinity, -.infinity]
            for value in values {
                let decoded = try #require(try await connection.query("SELECT \(value)::float8").first).decode(Double.self, at: 0)
                #expect(decoded == value)
            }
            let nan = try #require(try await connection.query("SELECT \(Double.nan)::float8").first).decode(Double.self, at: 0)
            #expect(nan.isNaN)
            let float = try #require(try await connection.query("SELECT \(Float(2.5))::float4").first).decode(Float.self, at: 0)
            #expect(float == 2.5)
            let numeric = try #require(try await connection.query("SELECT 12.25::numeric").first).decode(Double.self, at: 0)
            #expect(numeric == 12.25)
        }
    }

    @Test func datesAsTimestamptz() async throws {
        try await TestDatabase.withConnection { connection async throws in
            let dates = [
                Date(timeIntervalSince1970: 1_700_000_000.123_456),
                Date(timeIntervalSince1970: 0),
                Date(timeIntervalSince1970: -1_000_000_000.5),  // 1938
                Date(timeIntervalSince1970: 4_102_444_800),  // 2100-01-01
            ]
            for date in dates {
                let row = try #require(try await connection.query("SELECT \(date), extract(epoch FROM \(date))::float8").first)
                let decoded = try row.decode(Date.self, at: 0)
                #expect(abs(decoded.timeIntervalSince1970 - date.timeIntervalSince1970) < 0.000_001)
                #expect(abs(try row.decode(Double.self, at: 1) - date.timeIntervalSince1970) < 0.000_001)
            }
            // Output in another time zone still decodes to the same instant.
            try await connection.query("SET TimeZone TO 'Asia/Kolkata'")
            let row = try #require(try await connection.query("SELECT '2024-03-01 10:00:00+00'::timestamptz, '2024-03-01'::date").first)
            #expect(try row.decode(Date.self, at: 0) == Date(timeIntervalSince1970: 1_709_287_200))
            #expect(try row.decode(Date.self, at: 1) == Date(timeIntervalSince1970: 1_709_251_200))
        }
    }

    @Test func uuidAndBytea() async throws {
        try await TestDatabase.withConnection { connection async throws in
            let uuid = UUID()
            let bytes: [UInt8] = [0, 1, 2, 0x7f, 0x80, 0xfe, 0xff]
            let data = Data((0..<1000).map { UInt8($0 % 256) })
            let row = try #require(try await connection.query("SELECT \(uuid), \(bytes), \(data), length(\(data))").first)
            #expect(try row.decode(UUID.self, at: 0) == uuid)
            #expect(try row.decode([UInt8].self, at: 1) == bytes)
            #expect(try row.decode(Data.self, at: 2) == data)
            #expect(try row.decode(Int.self, at: 3) == 1000)
            let empty = try #require(try await connection.query("SELECT \(Data())").first).decode(Data.self, at: 0)
            #expect(empty.isEmpty)
        }
    }

    @Test func jsonbViaCodable() async throws {
        try await TestDatabase.withConnection { connection async throws in
            let order = Order(id: 7, items: ["ß", "🍣", "茶"], note: nil, total: 12.5)
            let row = try #require(try await connection.query(
                "SELECT \(PostgresJSON(order)), \(PostgresJSON(order))->'items'->>1, \(PostgresJSON(order))::json"
            ).first)
            #expect(try row.decodeJSON(Order.self, at: 0) == order)
            #expect(try row.decode(String.self, at: 1) == "🍣")
            #expect(try row.decode(PostgresJSON<Order>.self, at: 2).value == order)
        }
    }

    @Test func nullsAndOptionals() async throws {
        try await TestDatabase.withConnection { connection async throws in
            let table = TestDatabase.uniqueName("nulls")
            try await connection.query("""
                CREATE TABLE \(identifier: table) (id int PRIMARY KEY, name text, amount int8, at timestamptz, tag uuid, body bytea, doc jsonb)
                """)
            let missing: String? = nil
            let amount: Int? = nil
            try await connection.query(
                "INSERT INTO \(identifier: table) VALUES (1, \(missing), \(amount), \(Date?.none), \(UUID?.none), \(Data?.none), \(PostgresJSON<[Int]>?.none))"
            )
            try await connection.query(PostgresQuery(
                "INSERT INTO \(PostgresQuery.quoteIdentifier(table)) VALUES ($1, $2, $3, NULL, NULL, NULL, NULL)",
                [PostgresValue(2), PostgresValue("x"), .null]
            ))
            let rows = try await connection.query("SELECT id, name, amount, at, tag, body, doc FROM \(identifier: table) ORDER BY id")
            #expect(rows.count == 2)
            let first = rows[0]
            #expect(try first.decode(String?.self, at: 1) == nil)
            #expect(try first.decode(Int?.self, at: 2) == nil)
            #expect(try first.decode(Date?.self, at: 3) == nil)
            #expect(try first.decode(UUID?.self, at: 4) == nil)
            #expect(try first.decode(Data?.self, at: 5) == nil)
            #expect(try first.decode(PostgresJSON<[Int]>?.self, at: 6) == nil)
            #expect(first.isNull(at: 1))
            let (id, name, amountValue) = try rows[1].decode((Int, String?, Int?).self)
            #expect(id == 2 && name == "x" && amountValue == nil)
            #expect(rows.columns == ["id", "name", "amount", "at", "tag", "body", "doc"])
            try await connection.query("DROP TABLE \(identifier: table)")
        }
    }

    @Test func tableRoundTripWithUnicode() async throws {
        try await TestDatabase.withConnection { connection async throws in
            let table = TestDatabase.uniqueName("people")
            try await connection.query("CREATE TABLE \(identifier: table) (id uuid PRIMARY KEY, name text NOT NULL, born timestamptz, photo bytea)")
            let people: [(UUID, String)] = [(UUID(), "Zoë 🦊"), (UUID(), "王小明"), (UUID(), "Ægir")]
            for (id, name) in people {
                let inserted = try await connection.execute("INSERT INTO \(identifier: table) VALUES (\(id), \(name), now(), \(Data([1, 2, 3])))")
                #expect(inserted == 1)
            }
            let names = try await connection.query("SELECT name FROM \(identifier: table) ORDER BY name").decode(String.self)
            #expect(names == people.map(\.1).sorted())
            for (id, name) in people {
                let row = try #require(try await connection.query("SELECT name, photo FROM \(identifier: table) WHERE id = \(id)").first)
                #expect(try row.decode(String.self, at: 0) == name)
                #expect(try row.decode([UInt8].self, at: 1) == [1, 2, 3])
            }
            try await connection.query("DROP TABLE \(identifier: table)")
        }
    }
}
