import Foundation
import Skald
public import SkaldPostgres
public import SkaldRuntime

/// The example read model: every PlaceOrder saga as a row a support desk would search, and
/// each customer's completed and compensated orders.
///
/// `order_board` has one row per saga: its order, customer and amount (from the start), its
/// status in the saga's own words (followed event by event with the engine's rules, including
/// the step an operator must look at), the step it last sent a command for, why it failed, and
/// the last sequence applied, which equals the saga's `last_sequence` once the projection has
/// caught up. `customer_totals` is a view over it: rows that many sagas would update (a
/// customer's counters) are where two runners on different partitions would lock the same rows
/// in different orders, so they are derived instead of stored. ``OrderBoardCheck`` compares the
/// board with the saga store.
public struct OrderBoardProjection: SagaProjection {
    /// `order-board`.
    public let name = "order-board"
    /// `PlaceOrder` only.
    public let sagaTypes = [placeOrder.name]

    /// The projection.
    public init() {}

    /// Creates `order_board` and the `customer_totals` view if they are missing.
    public var setUp: [PostgresQuery] {
        [
            """
            CREATE TABLE IF NOT EXISTS order_board (
                saga_id            text        PRIMARY KEY,
                order_id           text        NOT NULL,
                customer_id        text        NOT NULL,
                amount_cents       bigint      NOT NULL,
                status             text        NOT NULL,
                step               text,
                failure            text,
                -- The step (or compensation) waiting for an operator, as the engine tracks it.
                stuck_step         text,
                stuck_compensating boolean,
                placed_at          timestamptz NOT NULL,
                finished_at        timestamptz,
                updated_at         timestamptz NOT NULL,
                last_sequence      integer     NOT NULL
            )
            """,
            "CREATE INDEX IF NOT EXISTS order_board_by_order ON order_board (order_id)",
            "CREATE INDEX IF NOT EXISTS order_board_by_customer ON order_board (customer_id, placed_at DESC)",
            """
            CREATE OR REPLACE VIEW customer_totals AS
            SELECT customer_id,
                   count(*) FILTER (WHERE status = 'completed') AS completed,
                   count(*) FILTER (WHERE status = 'compensated') AS compensated,
                   coalesce(sum(amount_cents) FILTER (WHERE status = 'completed'), 0) AS spent_cents
            FROM order_board GROUP BY customer_id
            """,
        ]
    }

    /// Empties the board, with `DELETE` rather than `TRUNCATE`: a rebuild runs in one
    /// transaction, and `TRUNCATE` would lock readers out of the table until it commits, where
    /// `DELETE` lets them read the old rows meanwhile.
    public var reset: [PostgresQuery] {
        ["DELETE FROM order_board"]
    }

    /// One statement per event: the row's status, step, failure and sequence.
    public func statements(for projected: ProjectedEvent) throws -> [PostgresQuery] {
        let sagaId = projected.sagaId
        let event = projected.event
        let row = Row(sagaId: sagaId, sequence: event.sequence, time: event.time)
        switch event.kind {
        case .started(_, let state, _):
            let order = try state.decode(PlaceOrderState.self)
            return [
                """
                INSERT INTO order_board (saga_id, order_id, customer_id, amount_cents, status, placed_at, updated_at, last_sequence)
                VALUES (\(sagaId), \(order.orderId), \(order.customerId), \(order.amountCents), 'running', \(event.time),
                        \(event.time), \(event.sequence))
                """
            ]
        case .stepCommandSent(let step, _, _), .compensationSent(let step, _, _):
            return [row.update(step: step.name)]
        case .stepSucceeded(let step, _, _, _, _):
            // A late success of the step an operator was asked about moves the saga on.
            return [row.update(unstick: step.name, compensating: false, to: .running)]
        case .stepSkippedByOperator(let step, _):
            return [row.update(unstick: step.name, compensating: nil, to: .running)]
        case .compensationSucceeded(let step, _, _, _), .compensationSkippedByOperator(let step, _):
            return [row.update(unstick: step.name, compensating: nil, to: .compensating)]
        case .stepFailed(_, _, let reply, _, _):
            return [row.update(failure: Self.shortName(reply))]
        case .compensationStarted:
            return [row.update(status: .compensating, clearStuck: true)]
        case .retryRequested(_, let compensating, _):
            return [row.update(status: compensating ? .compensating : .running, clearStuck: true)]
        case .failedNeedsOperator(let step, let compensating, let reason):
            return [row.update(status: .failedNeedsOperator, failure: reason, stuck: (step.name, compensating))]
        case .completed:
            return [row.update(status: .completed, finished: true, clearFailure: true)]
        case .compensated:
            return [row.update(status: .compensated, finished: true)]
        default:
            return [row.update()]
        }
    }

    /// The statements of one event on one saga's row.
    private struct Row {
        let sagaId: String
        let sequence: Int
        let time: Date

        func update(
            status: SagaStatus? = nil, step: String? = nil, failure: String? = nil, finished: Bool = false,
            clearFailure: Bool = false, stuck: (step: String, compensating: Bool)? = nil, clearStuck: Bool = false
        ) -> PostgresQuery {
            """
            UPDATE order_board SET last_sequence = \(sequence), updated_at = \(time),
                status = coalesce(\(status?.rawValue), status), step = coalesce(\(step), step),
                failure = CASE WHEN \(clearFailure) THEN NULL ELSE coalesce(\(failure), failure) END,
                finished_at = CASE WHEN \(finished) THEN \(time) ELSE finished_at END,
                stuck_step = CASE WHEN \(clearStuck) THEN NULL ELSE coalesce(\(stuck?.step), stuck_step) END,
                stuck_compensating = CASE WHEN \(clearStuck) THEN NULL ELSE coalesce(\(stuck?.compensating), stuck_compensating) END
            WHERE saga_id = \(sagaId)
            """
        }

        /// When `step` is the stuck one (and, if `compensating` is given, stuck that way), the
        /// saga goes back to `status` and is no longer stuck, as the engine has it.
        func update(unstick step: String, compensating: Bool?, to status: SagaStatus) -> PostgresQuery {
            """
            UPDATE order_board SET last_sequence = \(sequence), updated_at = \(time),
                status = CASE WHEN stuck_step = \(step) AND (\(compensating)::boolean IS NULL OR stuck_compensating = \(compensating))
                              THEN \(status.rawValue) ELSE status END,
                stuck_compensating = CASE WHEN stuck_step = \(step) AND (\(compensating)::boolean IS NULL OR stuck_compensating = \(compensating))
                                          THEN NULL ELSE stuck_compensating END,
                stuck_step = CASE WHEN stuck_step = \(step) AND (\(compensating)::boolean IS NULL OR stuck_compensating = \(compensating))
                                  THEN NULL ELSE stuck_step END
            WHERE saga_id = \(sagaId)
            """
        }
    }

    /// `com.example.payments.PaymentDeclined` → `PaymentDeclined`.
    static func shortName(_ messageType: String) -> String {
        String(messageType.split(separator: ".").last ?? Substring(messageType))
    }
}
