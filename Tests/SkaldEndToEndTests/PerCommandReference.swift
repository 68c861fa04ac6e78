import Foundation
import Skald
import SkaldExamples
import SkaldPostgres

// The example services' handlers as they were before session 14, one command at a time with
// its own statements (git show 2ddd255:Sources/SkaldExamples/Services/). BatchHandlerTests
// applies random histories through these, a command per transaction, and through the shipped
// batch handlers in random batches: the answers and the rows must be the same. Kept verbatim
// but for the names; it is the reference, not code to improve.

/// A per-command reference handler: the batch is its commands one after another.
protocol PerCommandReference: CommandHandler {
    func handleOne(
        _ command: ServiceCommand, on connection: isolated PostgresConnection, behaviour: ServiceBehaviour
    ) async throws -> (any SagaMessage)?
}

extension PerCommandReference {
    func handle(
        _ commands: [ServiceCommand], on connection: isolated PostgresConnection, behaviour: ServiceBehaviour
    ) async throws -> [CommandOutcome] {
        var outcomes: [CommandOutcome] = []
        for command in commands {
            do {
                if let reply = try await handleOne(command, on: connection, behaviour: behaviour) {
                    outcomes.append(.reply(reply))
                } else {
                    outcomes.append(.unknownType)
                }
            } catch let error as ExampleServiceError {
                outcomes.append(.unreadable(error))
            }
        }
        return outcomes
    }
}

/// PaymentService's handler before session 14.
struct ReferencePaymentService: PerCommandReference {
    var serviceName: String { PaymentService().serviceName }
    var defaultSchema: String { PaymentService().defaultSchema }
    var commandsTopic: String { PaymentService().commandsTopic }
    var tablesSQL: String { PaymentService().tablesSQL }

    func handleOne(
        _ command: ServiceCommand, on connection: isolated PostgresConnection, behaviour: ServiceBehaviour
    ) async throws -> (any SagaMessage)? {
        switch command.envelope.type {
        case ProcessPayment.messageType:
            return try process(try command.decode(ProcessPayment.self), on: connection, behaviour: behaviour)
        case RefundPayment.messageType:
            let refund = try command.decode(RefundPayment.self)
            // One statement: refund the charge, credit the account, and block a payment that
            // has not arrived yet (ON CONFLICT: a payment row, charged or not, stays as it is).
            _ = try connection.execute(
                """
                WITH refunded AS (
                    UPDATE payments SET status = 'refunded', updated_at = now()
                    WHERE order_id = \(refund.orderId) AND status = 'charged'
                    RETURNING customer_id, amount_cents
                ),
                credited AS (
                    UPDATE accounts SET balance = accounts.balance + r.amount_cents
                    FROM refunded AS r WHERE accounts.customer_id = r.customer_id
                )
                INSERT INTO payments (order_id, customer_id, amount_cents, status, reason)
                VALUES (\(refund.orderId), '', 0, 'refunded', 'refund before payment')
                ON CONFLICT (order_id) DO NOTHING
                """
            )
            return PaymentRefunded(orderId: refund.orderId)
        default:
            return nil
        }
    }

    /// Two round trips: the order's payment so far and the customer's balance (locked) in one
    /// pipeline, then one statement that charges or records the decline.
    private func process(
        _ payment: ProcessPayment, on connection: isolated PostgresConnection, behaviour: ServiceBehaviour
    ) throws -> any SagaMessage {
        let read = try connection.pipeline([
            "SELECT status, coalesce(reason, '') FROM payments WHERE order_id = \(payment.orderId)",
            "SELECT balance FROM accounts WHERE customer_id = \(payment.customerId) FOR UPDATE",
        ])
        if let (status, reason) = try read[0].first.map({ try $0.decode((String, String).self) }) {
            return status == "charged"
                ? PaymentProcessed(paymentId: "pay-\(payment.orderId)")
                : PaymentDeclined(reason: status == "refunded" ? "already refunded" : reason)
        }
        let balance = try read[1].first?.decode(Int.self, at: 0)
        let declineReason: String?
        if behaviour.fails(payment.orderId) {
            declineReason = "declined by the configured decline rate"
        } else if let balance {
            declineReason = balance < payment.amountCents ? "insufficient funds" : nil
        } else {
            declineReason = "no account for \(payment.customerId)"
        }
        if let declineReason {
            _ = try connection.execute(
                """
                INSERT INTO payments (order_id, customer_id, amount_cents, status, reason)
                VALUES (\(payment.orderId), \(payment.customerId), 0, 'declined', \(declineReason))
                """
            )
            return PaymentDeclined(reason: declineReason)
        }
        _ = try connection.execute(
            """
            WITH charged AS (
                UPDATE accounts SET balance = balance - \(payment.amountCents) WHERE customer_id = \(payment.customerId)
            )
            INSERT INTO payments (order_id, customer_id, amount_cents, status)
            VALUES (\(payment.orderId), \(payment.customerId), \(payment.amountCents), 'charged')
            """
        )
        return PaymentProcessed(paymentId: "pay-\(payment.orderId)")
    }
}

/// InventoryService's handler before session 14.
struct ReferenceInventoryService: PerCommandReference {
    var serviceName: String { InventoryService().serviceName }
    var defaultSchema: String { InventoryService().defaultSchema }
    var commandsTopic: String { InventoryService().commandsTopic }
    var tablesSQL: String { InventoryService().tablesSQL }

    func handleOne(
        _ command: ServiceCommand, on connection: isolated PostgresConnection, behaviour: ServiceBehaviour
    ) async throws -> (any SagaMessage)? {
        switch command.envelope.type {
        case ReserveInventory.messageType:
            return try reserve(try command.decode(ReserveInventory.self), on: connection, behaviour: behaviour)
        case ReleaseInventory.messageType:
            let release = try command.decode(ReleaseInventory.self)
            // One statement: release the order's reservations, give their stock back, and leave
            // a tombstone when there was nothing to release (the NOT EXISTS sees the rows as
            // they were before this statement, reserved or released).
            //
            // `status <> 'released'` rather than `= 'reserved'` (the same rows: the CHECK allows
            // only the two): with `= 'reserved'` the planner may AND the primary key with the
            // partial index `reservations_by_sku`, which means reading every reserved row. With
            // the statistics of a table that grew fast (a burst of orders) it did, and each
            // release took 1.5 ms at 8,500 reserved rows, growing with the table.
            _ = try connection.execute(
                """
                WITH released AS (
                    UPDATE reservations SET status = 'released', updated_at = now()
                    WHERE order_id = \(release.orderId) AND status <> 'released'
                    RETURNING sku, quantity
                ),
                returned AS (
                    UPDATE stock SET available = stock.available + r.quantity
                    FROM (SELECT sku, sum(quantity) AS quantity FROM released GROUP BY sku) AS r
                    WHERE stock.sku = r.sku
                )
                INSERT INTO reservations (order_id, sku, quantity, status)
                SELECT \(release.orderId), '*', 0, 'released'
                WHERE NOT EXISTS (SELECT 1 FROM reservations WHERE order_id = \(release.orderId))
                """
            )
            return InventoryReleased(orderId: release.orderId)
        default:
            return nil
        }
    }

    /// Two round trips whatever the number of lines: whether the order has a reservation
    /// already and the stock of its SKUs (locked, in SKU order so two reservations of the same
    /// SKUs cannot deadlock) in one pipeline, then one statement that takes the stock and
    /// records the reservation.
    private func reserve(
        _ reserve: ReserveInventory, on connection: isolated PostgresConnection, behaviour: ServiceBehaviour
    ) throws -> any SagaMessage {
        var wanted: [String: Int] = [:]
        for line in reserve.lines where line.quantity > 0 { wanted[line.sku, default: 0] += line.quantity }
        let skus = String(decoding: try SkaldJSON.encode(wanted.keys.sorted()), as: UTF8.self)
        let read = try connection.pipeline([
            "SELECT status FROM reservations WHERE order_id = \(reserve.orderId) LIMIT 1",
            """
            SELECT sku, available FROM stock
            WHERE sku IN (SELECT jsonb_array_elements_text(\(skus)::jsonb)) ORDER BY sku FOR UPDATE
            """,
        ])
        if let existing = try read[0].first?.decode(String.self, at: 0) {
            // A retry after a lost reply: answer as before; a released order stays released.
            return existing == "reserved"
                ? InventoryReserved(orderId: reserve.orderId, reservationId: "res-\(reserve.orderId)")
                : OutOfStock(orderId: reserve.orderId, sku: "released")
        }
        if behaviour.fails(reserve.orderId) {
            return OutOfStock(orderId: reserve.orderId, sku: reserve.lines.first?.sku ?? "?")
        }
        var available: [String: Int] = [:]
        for row in read[1] {
            let (sku, quantity) = try row.decode((String, Int).self)
            available[sku] = quantity
        }
        for sku in wanted.keys.sorted() where available[sku, default: 0] < wanted[sku, default: 0] {
            return OutOfStock(orderId: reserve.orderId, sku: sku)
        }
        let lines = String(
            decoding: try SkaldJSON.encode(wanted.sorted { $0.key < $1.key }.map { ReservedLine(sku: $0.key, quantity: $0.value) }),
            as: UTF8.self)
        _ = try connection.execute(
            """
            WITH wanted AS (SELECT x.sku, x.quantity FROM jsonb_to_recordset(\(lines)::jsonb) AS x(sku text, quantity integer)),
            taken AS (
                UPDATE stock SET available = stock.available - wanted.quantity
                FROM wanted WHERE stock.sku = wanted.sku
            )
            INSERT INTO reservations (order_id, sku, quantity, status)
            SELECT \(reserve.orderId), sku, quantity, 'reserved' FROM wanted
            """
        )
        return InventoryReserved(orderId: reserve.orderId, reservationId: "res-\(reserve.orderId)")
    }

    /// One line of a reservation, as the write statement reads it.
    private struct ReservedLine: Encodable {
        var sku: String
        var quantity: Int
    }
}

/// OrderService's handler before session 14.
struct ReferenceOrderService: PerCommandReference {
    var serviceName: String { OrderService().serviceName }
    var defaultSchema: String { OrderService().defaultSchema }
    var commandsTopic: String { OrderService().commandsTopic }
    var tablesSQL: String { OrderService().tablesSQL }
    var tablesChanges: [ServiceTablesChange] { OrderService().tablesChanges }

    func handleOne(
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

/// NotificationService's handler before session 14.
struct ReferenceNotificationService: PerCommandReference {
    var serviceName: String { NotificationService().serviceName }
    var defaultSchema: String { NotificationService().defaultSchema }
    var commandsTopic: String { NotificationService().commandsTopic }
    var tablesSQL: String { NotificationService().tablesSQL }

    func handleOne(
        _ command: ServiceCommand, on connection: isolated PostgresConnection, behaviour: ServiceBehaviour
    ) async throws -> (any SagaMessage)? {
        guard command.envelope.type == NotifyCustomer.messageType else { return nil }
        let notify = try command.decode(NotifyCustomer.self)
        if behaviour.fails(command.envelope.id) { return NotificationFailed() }
        let sagaId = command.envelope.sagaId ?? command.envelope.id
        _ = try connection.execute(
            """
            INSERT INTO notifications (saga_id, customer_id, text) VALUES (\(sagaId), \(notify.customerId), \(notify.text))
            ON CONFLICT (saga_id) DO UPDATE SET attempts = notifications.attempts + 1
            """
        )
        return CustomerNotified()
    }
}
