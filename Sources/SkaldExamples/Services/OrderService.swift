import Foundation
import SkaldRuntime
import Skald
public import SkaldPostgres

/// order-service: owns orders.
///
/// Placing an order stores it as `pending` and emits `OrderCreated` on `orders.events`
/// in the same transaction; that event starts the PlaceOrder saga. The saga's first
/// step (`CreateOrder`) accepts the pending order (or records it, when the saga was
/// started through the API), `ConfirmOrder` confirms it (the pivot), `CancelOrder`
/// cancels it (the compensation) unless it was confirmed, which it refuses.
public struct OrderService: CommandHandler {
    /// The topic order events go to.
    public static let eventsTopic = "orders.events"

    /// Creates the handler.
    public init() {}

    /// `order`.
    public var serviceName: String { "order" }
    /// `orders`.
    public var defaultSchema: String { "orders" }
    /// `orders.commands`.
    public var commandsTopic: String { "orders.commands" }

    /// The orders table.
    public var tablesSQL: String {
        """
        CREATE TABLE orders (
            order_id     text        PRIMARY KEY,
            customer_id  text        NOT NULL,
            lines        jsonb       NOT NULL,
            amount_cents bigint      NOT NULL,
            status       text        NOT NULL CHECK (status IN ('pending', 'accepted', 'rejected', 'confirmed', 'cancelled')),
            created_at   timestamptz NOT NULL DEFAULT now(),
            updated_at   timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX orders_by_status ON orders (status);
        """
    }

    /// Status changes become HOT updates: no query reads orders by status, yet the index on it
    /// made every confirmation and cancellation write a new entry in both indexes, and full
    /// pages sent each new row version to another page. In a 20,000-saga burst the status
    /// update took 33 µs per row with the index and 16 without it, with room left in each page
    /// (`pg_stat_statements`, docs/benchmarks-e2e.md, session 16). The fill factor applies to
    /// pages written from now on. Dropping the index locks `orders` for a moment; behind a long
    /// transaction the lock would hold the service's traffic up while it waited, so it gives up
    /// after 10 s instead, and the service's next start tries again.
    ///
    /// Then its key compares byte by byte, whatever the database's collation, as the saga
    /// store's do (`schemas/postgres/0009_bytewise_keys.sql` says why).
    public var tablesChanges: [ServiceTablesChange] {
        [
            ServiceTablesChange(
                name: "orders_hot_status",
                sql: """
                    SET LOCAL lock_timeout = '10s';
                    DROP INDEX IF EXISTS orders_by_status;
                    ALTER TABLE orders SET (fillfactor = 70);
                    """),
            ServiceTablesChange(name: "bytewise_keys", sql: """
                SET LOCAL lock_timeout = '10s';
                ALTER TABLE orders ALTER COLUMN order_id TYPE text COLLATE "C";
                """),
        ]
    }

    /// Places `orders` in one transaction on `connection` (a session in the service's schema):
    /// each is stored as `pending` and its `OrderCreated` event written to the outbox.
    ///
    /// Placing an order id twice changes nothing the second time.
    public static func place(_ orders: [OrderCreatedEvent], on connection: PostgresConnection) async throws {
        try await connection.withTransaction { connection in
            try await insert(orders, on: connection)
        }
    }

    /// The statements of ``place(_:on:)``, run on the connection's thread: one insert for all
    /// the orders, one for their events, whatever their number.
    private static func insert(_ orders: [OrderCreatedEvent], on connection: isolated PostgresConnection) throws {
        guard !orders.isEmpty else { return }
        var orderIds = PostgresArrayWriter(of: .text, capacity: orders.count)
        var customers = PostgresArrayWriter(of: .text, capacity: orders.count)
        var lines = PostgresArrayWriter(of: .json, capacity: orders.count)
        var amounts = PostgresArrayWriter(of: .int8, capacity: orders.count)
        for order in orders {
            orderIds.append(order.orderId)
            customers.append(order.customerId)
            lines.append(utf8: try SkaldJSON.encode(order.lines))
            amounts.append(order.amountCents)
        }
        var inserted = Set(
            try connection.query(
                """
                INSERT INTO orders (order_id, customer_id, lines, amount_cents, status)
                SELECT order_id, customer_id, lines::jsonb, amount_cents, 'pending' FROM unnest(
                    \(orderIds.value)::text[], \(customers.value)::text[], \(lines.value)::json[], \(amounts.value)::bigint[]
                ) AS placed(order_id, customer_id, lines, amount_cents)
                ON CONFLICT (order_id) DO NOTHING
                RETURNING order_id
                """
            ).decode(String.self))
        var events: [ServiceOutbox.Row] = []
        // The first of the orders with an id that was new; any later one with that id changes nothing.
        for order in orders where inserted.remove(order.orderId) != nil {
            let envelope = MessageEnvelope(
                id: "order-created:\(order.orderId)", source: "//order-service", type: OrderCreatedEvent.messageType,
                time: Date()
            )
            events.append(
                try ServiceOutbox.Row(order, envelope: envelope, topic: eventsTopic, key: order.orderId, laneKey: order.orderId))
        }
        try ServiceOutbox.write(events, on: connection)
        _ = try connection.query(PostgresQuery(OutboxRelay.notifySQL))
    }

    /// The commands it handles.
    private enum Command {
        case create(CreateOrder)
        case confirm(ConfirmOrder)
        case cancel(CancelOrder)
    }

    /// Handles CreateOrder, ConfirmOrder and CancelOrder, a batch in two round trips whatever
    /// its size: the batch's orders read and locked in order-id order, ``OrderLedger`` deciding
    /// each command in order in memory, then one pipeline that inserts the new rows and updates
    /// the statuses that changed.
    ///
    /// An order that appeared between the read and the write (placed at that moment) makes
    /// the insert fail on the primary key; the batch is then applied one command at a time,
    /// and that command's read sees the order.
    public func handle(
        _ commands: [ServiceCommand], on connection: isolated PostgresConnection, behaviour: ServiceBehaviour
    ) async throws -> [CommandOutcome] {
        var batch = DecodedBatch(commands) { command -> Command? in
            switch command.envelope.type {
            case CreateOrder.messageType: .create(try command.decode(CreateOrder.self))
            case ConfirmOrder.messageType: .confirm(try command.decode(ConfirmOrder.self))
            case CancelOrder.messageType: .cancel(try command.decode(CancelOrder.self))
            default: nil
            }
        }
        guard !batch.commands.isEmpty else { return batch.results }
        var orderIds = PostgresArrayWriter(of: .text)
        for (_, command) in batch.commands {
            switch command {
            case .create(let create): orderIds.append(create.orderId)
            case .confirm(let confirm): orderIds.append(confirm.orderId)
            case .cancel(let cancel): orderIds.append(cancel.orderId)
            }
        }
        var statuses: [String: OrderLedger.Status] = [:]
        for row in try connection.query(
            "SELECT order_id, status FROM orders WHERE order_id = ANY(\(orderIds.value)::text[]) ORDER BY order_id FOR UPDATE"
        ) {
            let (orderId, status) = try row.decode((String, String).self)
            guard let status = OrderLedger.Status(rawValue: status) else {
                throw ExampleServiceError("order \(orderId) has an unknown status \(status)")
            }
            statuses[orderId] = status
        }
        var ledger = OrderLedger(statuses: statuses)
        for (index, command) in batch.commands {
            switch command {
            case .create(let create):
                batch.answer(index, with: ledger.create(create, rejectedByRule: behaviour.fails(create.orderId)))
            case .confirm(let confirm):
                batch.answer(index, with: ledger.confirm(confirm))
            case .cancel(let cancel):
                batch.answer(index, with: ledger.cancel(cancel))
            }
        }
        try write(ledger, on: connection)
        return batch.results
    }

    /// Writes what `ledger` changed, in one round trip.
    private func write(_ ledger: OrderLedger, on connection: isolated PostgresConnection) throws {
        var writes: [PostgresQuery] = []
        let new = ledger.newOrders
        if !new.isEmpty {
            var orderIds = PostgresArrayWriter(of: .text, capacity: new.count)
            var customers = PostgresArrayWriter(of: .text, capacity: new.count)
            var lines = PostgresArrayWriter(of: .json, capacity: new.count)
            var statuses = PostgresArrayWriter(of: .text, capacity: new.count)
            for (orderId, order) in new {
                orderIds.append(orderId)
                customers.append(order.customerId)
                lines.append(utf8: try SkaldJSON.encode(order.lines))
                statuses.append(order.status.rawValue)
            }
            writes.append(
                """
                INSERT INTO orders (order_id, customer_id, lines, amount_cents, status)
                SELECT order_id, customer_id, lines::jsonb, 0, status FROM unnest(
                    \(orderIds.value)::text[], \(customers.value)::text[], \(lines.value)::json[], \(statuses.value)::text[]
                ) AS new(order_id, customer_id, lines, status)
                """)
        }
        let changed = ledger.changedOrders
        if !changed.isEmpty {
            var orderIds = PostgresArrayWriter(of: .text, capacity: changed.count)
            var statuses = PostgresArrayWriter(of: .text, capacity: changed.count)
            for (orderId, status) in changed {
                orderIds.append(orderId)
                statuses.append(status.rawValue)
            }
            writes.append(
                """
                UPDATE orders SET status = changed.status, updated_at = now()
                FROM unnest(\(orderIds.value)::text[], \(statuses.value)::text[]) AS changed(order_id, status)
                WHERE orders.order_id = changed.order_id
                """)
        }
        if !writes.isEmpty { _ = try connection.pipeline(writes) }
    }
}
