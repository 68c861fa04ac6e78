import Foundation
import Skald
import SkaldExamples
import SkaldPostgres
import SkaldTestSupport
import Testing

/// order-service's status changes are HOT updates (`101_order_orders_hot_status.sql`): on a
/// new schema, and on a schema an earlier version made and filled, upgraded in place.
@Suite("order-service's tables: status changes update rows in place")
struct OrderTablesTests {
    /// A schema name no other test uses.
    static func freshSchemaName() -> String {
        "ot" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(10).lowercased() + "_orders"
    }

    /// A connection whose search path is `schema`.
    static func connect(_ schema: String) async throws -> PostgresConnection {
        try await PostgresConnection.connect(to: try PostgresSearchPath.url(try TestPostgres.url(), schema: schema))
    }

    /// The indexes of `orders`, by name.
    static func indexes(on connection: PostgresConnection) async throws -> [String] {
        try await connection.query(
            "SELECT indexname::text FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'orders' ORDER BY 1"
        ).decode(String.self)
    }

    /// Orders `o0`…`o<count-1>`, placed (pending).
    static func place(_ count: Int, on connection: PostgresConnection) async throws {
        let orders = (0..<count).map {
            OrderCreatedEvent(
                orderId: "o\($0)", customerId: "c\($0 % 3)", lines: [OrderLine(sku: "s1", quantity: 1)], amountCents: 100)
        }
        try await OrderService.place(orders, on: connection)
    }

    /// Confirms the even orders of `range` and cancels the odd ones in one batch, in one
    /// transaction; returns how many rows that transaction updated, and how many of them in
    /// place (HOT). Not all of them can be: a page has room for only so many new versions
    /// while the transaction that made them is still open.
    ///
    /// On a connection of its own: since PostgreSQL 15 a session's transaction statistics also
    /// hold its earlier transactions' counts until they are flushed, a second or more later.
    static func settle(_ range: Range<Int>, in schema: String) async throws -> (updated: Int, hot: Int) {
        let connection = try await connect(schema)
        let commands = try range.map { index -> ServiceCommand in
            let message: any SagaMessage =
                index.isMultiple(of: 2) ? ConfirmOrder(orderId: "o\(index)") : CancelOrder(orderId: "o\(index)")
            return ServiceCommand(
                envelope: MessageEnvelope(id: "settle-\(index)", source: "test", type: type(of: message).messageType, sagaId: "s\(index)"),
                payload: try SkaldJSON.encode(message))
        }
        let counts = try await connection.withTransaction { connection in
            let outcomes = try await OrderService().handle(commands, on: connection, behaviour: ServiceBehaviour())
            #expect(outcomes.count == range.count)
            // This transaction's own counts: no waiting for the statistics collector.
            let row = try await connection.query(
                "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE schemaname = current_schema() AND relname = 'orders'"
            ).first
            return (try row?.decode(Int.self, at: 0) ?? -1, try row?.decode(Int.self, at: 1) ?? -1)
        }
        await connection.close()
        return counts
    }

    /// What each order's status became.
    static func statuses(on connection: PostgresConnection) async throws -> [String: String] {
        var statuses: [String: String] = [:]
        for row in try await connection.query("SELECT order_id, status FROM orders") {
            let (orderId, status) = try row.decode((String, String).self)
            statuses[orderId] = status
        }
        return statuses
    }

    @Test("a new schema: no index on status, room left in each page, and status changes HOT")
    func newSchema() async throws {
        let schema = Self.freshSchemaName()
        try await ParticipantService.migrate(handler: OrderService(), postgresURL: try TestPostgres.url(), schema: schema)
        let connection = try await Self.connect(schema)
        #expect(try await Self.indexes(on: connection) == ["orders_pkey"])
        let options = try await connection.query(
            "SELECT coalesce(array_to_string(reloptions, ','), '') FROM pg_class WHERE oid = 'orders'::regclass"
        ).first?.decode(String.self, at: 0)
        #expect(options == "fillfactor=70")
        let recorded = try await connection.query(
            "SELECT name FROM skald_schema_migrations WHERE version = \(ServiceSchema.firstTablesChangeVersion)"
        ).decode(String.self)
        #expect(recorded == ["order_orders_hot_status"])

        try await Self.place(40, on: connection)
        let (updated, hot) = try await Self.settle(0..<40, in: schema)
        #expect(updated == 40)
        #expect(hot > 0)
        let statuses = try await Self.statuses(on: connection)
        #expect(statuses.count == 40)
        #expect(statuses.values.filter { $0 == "confirmed" }.count == 20)
        #expect(statuses.values.filter { $0 == "cancelled" }.count == 20)
        await connection.close()
    }

    @Test("a schema the previous version made and filled: no HOT update before the upgrade, HOT ones after, orders kept")
    func upgradedSchema() async throws {
        let schema = Self.freshSchemaName()
        let baseURL = try TestPostgres.url()
        let setup = try await PostgresConnection.connect(to: baseURL)
        _ = try await setup.execute("CREATE SCHEMA \(identifier: schema)")
        await setup.close()
        let all = try ServiceSchema.migrations(for: OrderService())
        let earlier = all.filter { $0.version < ServiceSchema.firstTablesChangeVersion }
        #expect(earlier.count == all.count - OrderService().tablesChanges.count)
        try await PostgresMigrator(migrations: earlier).migrate(url: try PostgresSearchPath.url(baseURL, schema: schema))

        let connection = try await Self.connect(schema)
        #expect(try await Self.indexes(on: connection) == ["orders_by_status", "orders_pkey"])
        try await Self.place(30, on: connection)
        let before = try await Self.settle(0..<10, in: schema)
        #expect(before.updated == 10)
        #expect(before.hot == 0, "the index on status rules out HOT updates")

        // What an upgraded service runs at its start.
        try await ParticipantService.migrate(handler: OrderService(), postgresURL: baseURL, schema: schema)
        #expect(try await Self.indexes(on: connection) == ["orders_pkey"])
        #expect(try await Self.statuses(on: connection).count == 30)
        let after = try await Self.settle(10..<30, in: schema)
        #expect(after.updated == 20)
        #expect(after.hot > 0)
        let statuses = try await Self.statuses(on: connection)
        #expect(statuses.values.filter { $0 == "confirmed" }.count == 15)
        #expect(statuses.values.filter { $0 == "cancelled" }.count == 15)
        // Migrating again applies nothing and changes nothing.
        try await ParticipantService.migrate(handler: OrderService(), postgresURL: baseURL, schema: schema)
        #expect(try await Self.indexes(on: connection) == ["orders_pkey"])
        await connection.close()
    }
}
