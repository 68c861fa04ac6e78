import Foundation
public import SkaldPostgres

/// Compares the `order-board` projection with the saga store it is built from.
///
/// Once the projection has caught up, each PlaceOrder saga has one `order_board` row with the
/// saga's last sequence, status, business key and amount.
public struct OrderBoardCheck: Sendable, Equatable {
    /// PlaceOrder sagas in the store (of the run, when a prefix was given).
    public var sagas = 0
    /// Sagas the board has not caught up with: no row, or an older sequence.
    public var behind = 0
    /// Rows that disagree with their saga at the same sequence (status, key or amount).
    public var mismatched = 0
    /// Rows of completed orders.
    public var completed = 0
    /// Rows of compensated orders.
    public var compensated = 0

    /// Nothing read yet.
    public init() {}

    /// Whether the board has caught up with every saga and agrees with all of them.
    public var isConsistent: Bool { behind == 0 && mismatched == 0 }

    /// Reads the comparison; `orderIdPrefix` limits it to one run's orders.
    public static func read(on connection: PostgresConnection, orderIdPrefix: String = "") async throws -> OrderBoardCheck {
        let pattern = orderIdPrefix.replacingOccurrences(of: "\\", with: "\\\\")
            .replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_") + "%"
        // Until a runner has started, there is no board: every saga is behind.
        let exists = try await connection.query("SELECT to_regclass('order_board') IS NOT NULL").first?.decode(Bool.self, at: 0)
        guard exists == true else {
            var check = OrderBoardCheck()
            check.sagas = try await connection.query(
                "SELECT count(*)::bigint FROM sagas WHERE saga_type = 'PlaceOrder' AND business_key LIKE \(pattern)"
            ).first?.decode(Int.self, at: 0) ?? 0
            check.behind = check.sagas
            return check
        }
        let row = try await connection.query(
            """
            WITH run AS (
                SELECT s.saga_id, s.status, s.last_sequence, s.business_key, (s.state::json ->> 'amountCents')::bigint AS amount,
                       b.saga_id AS row_id, b.status AS row_status, b.last_sequence AS row_sequence,
                       b.order_id, b.amount_cents
                FROM sagas s LEFT JOIN order_board b ON b.saga_id = s.saga_id
                WHERE s.saga_type = 'PlaceOrder' AND s.business_key LIKE \(pattern)
            )
            SELECT
                (SELECT count(*) FROM run),
                (SELECT count(*) FROM run WHERE row_id IS NULL OR row_sequence < last_sequence),
                (SELECT count(*) FROM run WHERE row_sequence >= last_sequence
                    AND (row_sequence <> last_sequence OR row_status <> status OR order_id IS DISTINCT FROM business_key
                         OR amount_cents IS DISTINCT FROM amount)),
                (SELECT count(*) FROM run WHERE row_status = 'completed'),
                (SELECT count(*) FROM run WHERE row_status = 'compensated')
            """
        ).first
        guard let row else { return OrderBoardCheck() }
        var check = OrderBoardCheck()
        check.sagas = try row.decode(Int.self, at: 0)
        check.behind = try row.decode(Int.self, at: 1)
        check.mismatched = try row.decode(Int.self, at: 2)
        check.completed = try row.decode(Int.self, at: 3)
        check.compensated = try row.decode(Int.self, at: 4)
        return check
    }

    /// Reads the comparison until the board has caught up (or `timeout` passes) and returns the last reading.
    public static func awaitCaughtUp(
        on connection: PostgresConnection, orderIdPrefix: String = "", timeout: Duration = .seconds(30)
    ) async throws -> OrderBoardCheck {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while true {
            let check = try await read(on: connection, orderIdPrefix: orderIdPrefix)
            if check.behind == 0 || clock.now >= deadline { return check }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// One line for a person: the counts and whether the board agrees with the store.
    public var summary: String {
        let verdict =
            isConsistent
            ? "matches the saga store"
            : "DOES NOT MATCH: \(behind) sagas behind, \(mismatched) rows differ"
        return "\(completed) completed, \(compensated) compensated of \(sagas) orders; \(verdict)"
    }
}
