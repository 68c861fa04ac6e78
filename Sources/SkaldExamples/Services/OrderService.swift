import Foundation
import SkaldRuntime
public import Skald
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

    /// Places `orders` in one transaction on `connection` (a session in the service's schema):
    /// each is stored as `pending` and its `OrderCreated` event written to the outbox.
    ///
    /// Placing an order id twice changes nothing the second time.
    public static func place(_ orders: [OrderCreatedEvent], on connection: PostgresConnection) async throws {
        try await connection.withTransaction { connection in
            try await insert(orders, on: connection)
        }
    }

    /// The statements of ``place(_:on:)``, run on the connection's thread (no hop per order).
    private static func insert(_ orders: [OrderCreatedEvent], on connection: isolated PostgresConnection) throws {
        var events: [ServiceOutbox.Row] = []
        for order in orders {
            let lines = String(decoding: try JSONEncoder().encode(order.lines), as: UTF8.self)
            let inserted = try connection.execute(
                """
                INSERT INTO orders (order_id, customer_id, lines, amount_cents, status)
                VALUES (\(order.orderId), \(order.customerId), \(lines)::jsonb, \(order.amountCents), 'pending')
                ON CONFLICT (order_id) DO NOTHING
                """
            )
            guard inserted == 1 else { continue }
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

    /// Handles CreateOrder, ConfirmOrder and CancelOrder.
    public func handle(
        _ command: ServiceCommand, on connection: isolated PostgresConnection, behaviour: ServiceBehaviour
    ) async throws -> (any SagaMessage)? {
        switch command.envelope.type {
        case CreateOrder.messageType:
            let create = try command.decode(CreateOrder.self)
            if behaviour.fails(create.orderId) {
                _ = try connection.execute(
                    "UPDATE orders SET status = 'rejected', updated_at = now() WHERE order_id = \(create.orderId) AND status = 'pending'"
                )
                return OrderRejected(reason: "order service told to reject")
            }
            let lines = String(decoding: try JSONEncoder().encode(create.lines), as: UTF8.self)
            let status = try connection.query(
                """
                INSERT INTO orders (order_id, customer_id, lines, amount_cents, status)
                VALUES (\(create.orderId), \(create.customerId), \(lines)::jsonb, 0, 'accepted')
                ON CONFLICT (order_id) DO UPDATE SET status = 'accepted', updated_at = now()
                    WHERE orders.status = 'pending'
                RETURNING status
                """
            ).first?.decode(String.self, at: 0)
            if status == nil, try self.status(of: create.orderId, on: connection) == "cancelled" {
                return OrderRejected(reason: "order \(create.orderId) was cancelled")
            }
            return OrderCreated(orderId: create.orderId)
        case ConfirmOrder.messageType:
            let confirm = try command.decode(ConfirmOrder.self)
            // One statement: confirm a pending or accepted order; either way, its status now.
            let status = try connection.query(
                """
                WITH confirmed AS (
                    UPDATE orders SET status = 'confirmed', updated_at = now()
                    WHERE order_id = \(confirm.orderId) AND status IN ('pending', 'accepted')
                    RETURNING status
                )
                SELECT coalesce((SELECT status FROM confirmed), (SELECT status FROM orders WHERE order_id = \(confirm.orderId)))
                """
            ).first?.decode(String?.self, at: 0)
            if status == "confirmed" { return OrderConfirmed(orderId: confirm.orderId) }
            return OrderConfirmationFailed(reason: "order \(confirm.orderId) is \(status ?? "unknown")")
        case CancelOrder.messageType:
            let cancel = try command.decode(CancelOrder.self)
            // A cancel that arrives before the order (a timed-out create) leaves a tombstone,
            // so the late create cannot bring the order back. A confirmed order stays confirmed,
            // and the statement returns nothing for it.
            let cancelled = try connection.query(
                """
                INSERT INTO orders (order_id, customer_id, lines, amount_cents, status)
                VALUES (\(cancel.orderId), '', '[]'::jsonb, 0, 'cancelled')
                ON CONFLICT (order_id) DO UPDATE SET status = 'cancelled', updated_at = now()
                    WHERE orders.status <> 'confirmed'
                RETURNING status
                """
            )
            if cancelled.isEmpty {
                return OrderCancellationRefused(orderId: cancel.orderId, reason: "order \(cancel.orderId) is confirmed")
            }
            return OrderCancelled(orderId: cancel.orderId)
        default:
            return nil
        }
    }

    private func status(of orderId: String, on connection: isolated PostgresConnection) throws -> String? {
        try connection.query("SELECT status FROM orders WHERE order_id = \(orderId)").first?.decode(String.self, at: 0)
    }
}
