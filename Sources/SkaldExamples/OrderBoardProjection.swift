import Foundation
import Skald
public import SkaldPostgres
public import SkaldRuntime

/// The example read model: every PlaceOrder saga as a row a support desk would search, and
/// each customer's completed and compensated orders.
///
/// `order_board` has one row per saga: its order, customer and amount (from the start), its
/// status in the saga's own words, the step it last sent a command for, why it failed, and the
/// last sequence applied, which must equal the saga's `last_sequence` once the projection has
/// caught up. `customer_orders` counts each customer's finished orders and what they spent.
/// ``OrderBoardCheck`` compares both with the saga store.
public struct OrderBoardProjection: SagaProjection {
    /// `order-board`.
    public let name = "order-board"
    /// `PlaceOrder` only.
    public let sagaTypes = [placeOrder.name]

    /// The projection.
    public init() {}

    /// Creates `order_board` and `customer_orders` if they are missing.
    public var setUp: [PostgresQuery] {
        [
            """
            CREATE TABLE IF NOT EXISTS order_board (
                saga_id       text        PRIMARY KEY,
                order_id      text        NOT NULL,
                customer_id   text        NOT NULL,
                amount_cents  bigint      NOT NULL,
                status        text        NOT NULL,
                step          text,
                failure       text,
                placed_at     timestamptz NOT NULL,
                finished_at   timestamptz,
                updated_at    timestamptz NOT NULL,
                last_sequence integer     NOT NULL
            )
            """,
            "CREATE INDEX IF NOT EXISTS order_board_by_order ON order_board (order_id)",
            "CREATE INDEX IF NOT EXISTS order_board_by_customer ON order_board (customer_id, placed_at DESC)",
            """
            CREATE TABLE IF NOT EXISTS customer_orders (
                customer_id text   PRIMARY KEY,
                completed   integer NOT NULL DEFAULT 0,
                compensated integer NOT NULL DEFAULT 0,
                spent_cents bigint  NOT NULL DEFAULT 0
            )
            """,
        ]
    }

    /// Empties both tables, with `DELETE` rather than `TRUNCATE`: a rebuild runs in one
    /// transaction, and `TRUNCATE` would lock readers out of the tables until it commits, where
    /// `DELETE` lets them read the old rows meanwhile.
    public var reset: [PostgresQuery] {
        ["DELETE FROM order_board", "DELETE FROM customer_orders"]
    }

    /// One statement per event (the row's status, step, failure and sequence), and the
    /// customer's counters when the saga finishes.
    public func statements(for projected: ProjectedEvent) throws -> [PostgresQuery] {
        let sagaId = projected.sagaId
        let event = projected.event
        let sequence = event.sequence
        let time = event.time
        switch event.kind {
        case .started(_, let state, _):
            let order = try state.decode(PlaceOrderState.self)
            return [
                """
                INSERT INTO order_board (saga_id, order_id, customer_id, amount_cents, status, placed_at, updated_at, last_sequence)
                VALUES (\(sagaId), \(order.orderId), \(order.customerId), \(order.amountCents), 'running', \(time), \(time), \(sequence))
                """
            ]
        case .stepCommandSent(let step, _, _), .compensationSent(let step, _, _):
            return [update(sagaId, sequence, time, step: step.name)]
        case .stepFailed(_, _, let reply, _, _):
            return [update(sagaId, sequence, time, failure: Self.shortName(reply))]
        case .compensationStarted, .compensationSkippedByOperator:
            return [update(sagaId, sequence, time, status: SagaStatus.compensating)]
        case .stepSkippedByOperator:
            return [update(sagaId, sequence, time, status: SagaStatus.running)]
        case .retryRequested(_, let compensating, _):
            return [update(sagaId, sequence, time, status: compensating ? .compensating : .running)]
        case .failedNeedsOperator(_, _, let reason):
            return [update(sagaId, sequence, time, status: .failedNeedsOperator, failure: reason)]
        case .completed:
            return [
                update(sagaId, sequence, time, status: .completed, finished: true),
                customerFinished(sagaId, column: "completed", spent: true),
            ]
        case .compensated:
            return [
                update(sagaId, sequence, time, status: .compensated, finished: true),
                customerFinished(sagaId, column: "compensated", spent: false),
            ]
        default:
            return [update(sagaId, sequence, time)]
        }
    }

    private func update(
        _ sagaId: String, _ sequence: Int, _ time: Date, status: SagaStatus? = nil, step: String? = nil,
        failure: String? = nil, finished: Bool = false
    ) -> PostgresQuery {
        """
        UPDATE order_board SET last_sequence = \(sequence), updated_at = \(time),
            status = coalesce(\(status?.rawValue), status), step = coalesce(\(step), step),
            failure = coalesce(\(failure), failure),
            finished_at = CASE WHEN \(finished) THEN \(time) ELSE finished_at END
        WHERE saga_id = \(sagaId)
        """
    }

    private func customerFinished(_ sagaId: String, column: String, spent: Bool) -> PostgresQuery {
        // `column` is one of two literals above, never data.
        let sql = """
            INSERT INTO customer_orders (customer_id, \(column), spent_cents)
            SELECT customer_id, 1, \(spent ? "amount_cents" : "0") FROM order_board WHERE saga_id = $1
            ON CONFLICT (customer_id) DO UPDATE SET \(column) = customer_orders.\(column) + 1,
                spent_cents = customer_orders.spent_cents + EXCLUDED.spent_cents
            """
        return PostgresQuery(sql, [PostgresValue(sagaId)])
    }

    /// `com.example.payments.PaymentDeclined` → `PaymentDeclined`.
    static func shortName(_ messageType: String) -> String {
        String(messageType.split(separator: ".").last ?? Substring(messageType))
    }
}
