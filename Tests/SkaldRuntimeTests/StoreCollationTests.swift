import Foundation
import SkaldPostgres
import SkaldTestSupport
import Testing

/// The saga store's ids and keys compare byte by byte (`0009_bytewise_keys.sql`), so its
/// B-trees cost the same on a database whose default collation is linguistic.
@Suite("The store's ids and keys compare byte by byte, whatever the database's collation")
struct StoreCollationTests {
    @Test("every text column of an index in the store is COLLATE \"C\"")
    func indexedTextColumnsAreBytewise() async throws {
        let url = try await TestPostgres.freshStore("coll")
        let columns = try await TestPostgres.strings(
            url,
            """
            SELECT DISTINCT t.relname || '.' || a.attname || ' ' || coalesce(co.collname, '?')
            FROM pg_index i
            JOIN pg_class t ON t.oid = i.indrelid
            JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY(i.indkey)
            LEFT JOIN pg_collation co ON co.oid = a.attcollation
            WHERE t.relnamespace = current_schema()::regnamespace AND a.atttypid = 'text'::regtype
            ORDER BY 1
            """)
        #expect(columns.contains("saga_events.saga_id C"))
        #expect(columns.contains("inbox.message_id C"))
        #expect(columns.contains("sagas.business_key C"))
        let others = columns.filter { !$0.hasSuffix(" C") }
        #expect(others.isEmpty, "text columns in indexes without COLLATE \"C\": \(others)")
    }

    @Test("a business-key prefix search walks its index")
    func prefixSearchUsesTheIndex() async throws {
        let url = try await TestPostgres.freshStore("collk")
        let plan = try await TestPostgres.strings(
            url, "EXPLAIN (COSTS OFF) SELECT saga_id FROM sagas WHERE business_key LIKE 'order-17%'"
        ).joined(separator: "\n")
        #expect(plan.contains("sagas_by_business_key"), "\(plan)")
        #expect(plan.contains("business_key >= 'order-17'"), "\(plan)")
    }

    @Test("on a database whose default collation is ICU en-US, saga ids still sort byte by byte")
    func linguisticDatabase() async throws {
        let base = try TestPostgres.url()
        let database = "skald_icu_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(8).lowercased()
        let admin = try await PostgresConnection.connect(to: base)
        _ = try await admin.execute(
            "CREATE DATABASE \(identifier: database) TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'")
        defer {
            Task {
                _ = try? await admin.execute("DROP DATABASE IF EXISTS \(identifier: database) WITH (FORCE)")
                await admin.close()
            }
        }
        let url = try Self.url(base, database: database)
        let store = try await TestPostgres.freshStore("icu", in: url)
        let connection = try await PostgresConnection.connect(to: store)
        defer { Task { await connection.close() } }
        // en-US puts 'a' before 'B'; byte order puts 'B' (0x42) first.
        #expect(try await connection.query("SELECT 'a' < 'B'").first?.decode(Bool.self, at: 0) == true)
        try await connection.query(
            """
            INSERT INTO saga_events (saga_id, sequence, event_type, event, recorded_at)
            VALUES ('a-1', 1, 'started', '{}', now()), ('B-1', 1, 'started', '{}', now()), ('b-1', 1, 'started', '{}', now())
            """)
        let ids = try await connection.query("SELECT saga_id FROM saga_events ORDER BY saga_id").decode(String.self)
        #expect(ids == ["B-1", "a-1", "b-1"])
    }

    /// `base` with its database replaced by `database`.
    static func url(_ base: String, database: String) throws -> String {
        guard var components = URLComponents(string: base) else { throw URLError(.badURL) }
        components.path = "/" + database
        return try #require(components.string)
    }
}
