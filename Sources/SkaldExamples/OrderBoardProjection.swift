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
        let event = projected.event
        if case .started = event.kind {
            return [try BoardRow.started(projected).insert]
        }
        let row = Row(sagaId: projected.sagaId, sequence: event.sequence, time: event.time)
        switch Self.change(for: event) {
        case .set(let change):
            return [
                row.update(
                    status: change.status, step: change.step, failure: change.failure, finished: change.finished,
                    clearFailure: change.clearFailure, stuck: change.stuck, clearStuck: change.clearStuck)
            ]
        case .unstick(let step, let compensating, let status):
            return [row.update(unstick: step, compensating: compensating, to: status)]
        }
    }

    /// A saga's events of a batch as few writes as the rules allow, with the row they leave
    /// exactly what the events one by one leave:
    /// - from its start (a rebuild, a catch-up, a new saga's first batch): one `INSERT` of the
    ///   row they end with, computed here;
    /// - later ones: one `UPDATE` whose expressions read the row as it was (``FoldedUpdate``),
    ///   a second one only where a second "unstick" would have to read what the first computed.
    ///
    /// A rebuild writes each saga once instead of a dozen times, a runner about once per batch.
    public func statements(forEventsOf events: [ProjectedEvent]) throws -> [PostgresQuery] {
        guard let first = events.first, case .started = first.event.kind else {
            var statements: [PostgresQuery] = []
            var fold = FoldedUpdate()
            for projected in events {
                let change = Self.change(for: projected.event)
                if !fold.accepts(change) {
                    statements.append(fold.statement(sagaId: projected.sagaId))
                    fold = FoldedUpdate()
                }
                fold.apply(change, sequence: projected.event.sequence, time: projected.event.time)
            }
            if let last = events.last, !fold.isEmpty { statements.append(fold.statement(sagaId: last.sagaId)) }
            return statements
        }
        var row = try BoardRow.started(first)
        for projected in events.dropFirst() {
            row.apply(Self.change(for: projected.event), sequence: projected.event.sequence, time: projected.event.time)
        }
        return [row.insert]
    }

    /// What an event other than the start changes in its saga's row (besides its sequence and time).
    enum Change: Equatable {
        /// Fields set or cleared regardless of the row.
        case set(Assignment)
        /// When `step` is the stuck one (and, if `compensating` is given, stuck that way), the
        /// saga goes back to `status` and is no longer stuck, as the engine has it.
        case unstick(step: String, compensating: Bool?, status: SagaStatus)
    }

    /// The fields a ``Change/set(_:)`` writes; nil and false leave a field as it is.
    struct Assignment: Equatable {
        var status: SagaStatus?
        var step: String?
        var failure: String?
        var finished = false
        var clearFailure = false
        var stuck: Stuck?
        var clearStuck = false
    }

    /// The step an operator must look at.
    struct Stuck: Equatable {
        var step: String
        var compensating: Bool
    }

    /// The engine's status rules, event by event.
    static func change(for event: SagaEvent) -> Change {
        switch event.kind {
        case .stepCommandSent(let step, _, _), .compensationSent(let step, _, _):
            return .set(Assignment(step: step.name))
        case .stepSucceeded(let step, _, _, _, _):
            // A late success of the step an operator was asked about moves the saga on.
            return .unstick(step: step.name, compensating: false, status: .running)
        case .stepSkippedByOperator(let step, _):
            return .unstick(step: step.name, compensating: nil, status: .running)
        case .compensationSucceeded(let step, _, _, _), .compensationSkippedByOperator(let step, _):
            return .unstick(step: step.name, compensating: nil, status: .compensating)
        case .stepFailed(_, _, let reply, _, _):
            return .set(Assignment(failure: Self.shortName(reply)))
        case .compensationStarted:
            return .set(Assignment(status: .compensating, clearStuck: true))
        case .retryRequested(_, let compensating, _):
            return .set(Assignment(status: compensating ? .compensating : .running, clearStuck: true))
        case .failedNeedsOperator(let step, let compensating, let reason):
            return .set(Assignment(status: .failedNeedsOperator, failure: reason, stuck: Stuck(step: step.name, compensating: compensating)))
        case .completed:
            return .set(Assignment(status: .completed, finished: true, clearFailure: true))
        case .compensated:
            return .set(Assignment(status: .compensated, finished: true))
        default:
            return .set(Assignment())
        }
    }

    /// A board row computed in Swift, for a saga whose events start at its start.
    struct BoardRow: Equatable {
        var sagaId: String
        var orderId: String
        var customerId: String
        var amountCents: Int
        var status: SagaStatus
        var step: String?
        var failure: String?
        var stuckStep: String?
        var stuckCompensating: Bool?
        var placedAt: Date
        var finishedAt: Date?
        var updatedAt: Date
        var lastSequence: Int

        /// The row a saga's start writes.
        static func started(_ projected: ProjectedEvent) throws -> BoardRow {
            guard case .started(_, let state, _) = projected.event.kind else {
                throw ExampleServiceError("event \(projected.event.sequence) of saga \(projected.sagaId) is not its start")
            }
            let order = try state.decode(PlaceOrderState.self)
            return BoardRow(
                sagaId: projected.sagaId, orderId: order.orderId, customerId: order.customerId, amountCents: order.amountCents,
                status: .running, placedAt: projected.event.time, updatedAt: projected.event.time,
                lastSequence: projected.event.sequence)
        }

        /// The row after `change`, exactly as ``Row``'s statements leave it (SQL's `NULL = x` is
        /// not true, as `nil == x` is not here).
        mutating func apply(_ change: Change, sequence: Int, time: Date) {
            lastSequence = sequence
            updatedAt = time
            switch change {
            case .set(let assignment):
                status = assignment.status ?? status
                step = assignment.step ?? step
                failure = assignment.clearFailure ? nil : (assignment.failure ?? failure)
                if assignment.finished { finishedAt = time }
                if assignment.clearStuck {
                    stuckStep = nil
                    stuckCompensating = nil
                } else if let stuck = assignment.stuck {
                    stuckStep = stuck.step
                    stuckCompensating = stuck.compensating
                }
            case .unstick(let stuckOn, let compensating, let next):
                guard stuckStep == stuckOn, compensating == nil || stuckCompensating == compensating else { return }
                status = next
                stuckStep = nil
                stuckCompensating = nil
            }
        }

        /// The `INSERT` of the whole row.
        var insert: PostgresQuery {
            """
            INSERT INTO order_board (saga_id, order_id, customer_id, amount_cents, status, step, failure, stuck_step,
                                     stuck_compensating, placed_at, finished_at, updated_at, last_sequence)
            VALUES (\(sagaId), \(orderId), \(customerId), \(amountCents), \(status.rawValue), \(step), \(failure),
                    \(stuckStep), \(stuckCompensating), \(placedAt), \(finishedAt), \(updatedAt), \(lastSequence))
            """
        }
    }

    /// Changes to an existing row folded into one `UPDATE`: each column's new value as an
    /// expression over the row as it was, with the values as parameters.
    ///
    /// An "unstick" reads the stuck step as the changes before it left it; it becomes a `CASE`
    /// over it. A second unstick would read that `CASE` in three more, so the fold takes one
    /// only while the stuck columns are plain (as they were, or set by the fold) and the caller
    /// writes the fold so far first (``accepts(_:)``): the SQL grows linearly with the events.
    struct FoldedUpdate {
        /// A column's new value, bound to parameters only when the statement is written, so
        /// a value a later change replaced leaves no parameter behind (Postgres cannot type one
        /// that no expression uses).
        indirect enum Expression {
            /// The column as the row had it.
            case column(String)
            /// SQL NULL of a type.
            case null(String)
            /// Parameters.
            case text(String)
            case integer(Int)
            case boolean(Bool)
            case time(Date)
            /// `CASE WHEN <the stuck step is step, stuck that way> THEN then ELSE otherwise END`.
            case ifStuck(step: String, compensating: Bool?, stuckStep: Expression, stuckCompensating: Expression,
                         then: Expression, otherwise: Expression)

            func sql(_ bindings: inout PostgresBindings) -> String {
                func parameter(_ value: some PostgresEncodable, _ type: String) -> String {
                    bindings.append(value)
                    return "$\(bindings.count)::\(type)"
                }
                switch self {
                case .column(let name): return name
                case .null(let type): return "NULL::\(type)"
                case .text(let value): return parameter(value, "text")
                case .integer(let value): return parameter(value, "integer")
                case .boolean(let value): return parameter(value, "boolean")
                case .time(let value): return parameter(value, "timestamptz")
                case .ifStuck(let step, let compensating, let stuckStep, let stuckCompensating, let then, let otherwise):
                    let wanted = compensating.map { parameter($0, "boolean") } ?? "NULL::boolean"
                    let condition =
                        "\(stuckStep.sql(&bindings)) = \(parameter(step, "text")) AND (\(wanted) IS NULL OR \(stuckCompensating.sql(&bindings)) = \(wanted))"
                    return "CASE WHEN \(condition) THEN \(then.sql(&bindings)) ELSE \(otherwise.sql(&bindings)) END"
                }
            }
        }

        /// Each column's new value; nil leaves it as it is.
        private var status: Expression?
        private var step: Expression?
        private var failure: Expression?
        private var finishedAt: Expression?
        private var stuckStep: Expression?
        private var stuckCompensating: Expression?
        /// Whether the stuck columns' values are the `CASE`s an unstick made.
        private var stuckIsComputed = false
        private var sequence = 0
        private var time = Date(timeIntervalSince1970: 0)
        /// Whether no change has been folded in.
        private(set) var isEmpty = true

        /// Whether `change` can join the fold without reading an unstick's result.
        func accepts(_ change: Change) -> Bool {
            if case .unstick = change { return !stuckIsComputed }
            return true
        }

        /// Folds `change`, the event `sequence` at `time`, in; ``accepts(_:)`` must allow it.
        mutating func apply(_ change: Change, sequence: Int, time: Date) {
            isEmpty = false
            self.sequence = sequence
            self.time = time
            switch change {
            case .set(let assignment):
                if let value = assignment.status { status = .text(value.rawValue) }
                if let value = assignment.step { step = .text(value) }
                if assignment.clearFailure {
                    failure = .null("text")
                } else if let value = assignment.failure {
                    failure = .text(value)
                }
                if assignment.finished { finishedAt = .time(time) }
                if assignment.clearStuck {
                    stuckStep = .null("text")
                    stuckCompensating = .null("boolean")
                    stuckIsComputed = false
                } else if let stuck = assignment.stuck {
                    stuckStep = .text(stuck.step)
                    stuckCompensating = .boolean(stuck.compensating)
                    stuckIsComputed = false
                }
            case .unstick(let stuckOn, let compensating, let next):
                precondition(!stuckIsComputed, "a second unstick must start a new fold")
                let stuckStepBefore = stuckStep ?? .column("stuck_step")
                let stuckCompensatingBefore = stuckCompensating ?? .column("stuck_compensating")
                func ifStuck(then: Expression, otherwise: Expression) -> Expression {
                    .ifStuck(
                        step: stuckOn, compensating: compensating, stuckStep: stuckStepBefore,
                        stuckCompensating: stuckCompensatingBefore, then: then, otherwise: otherwise)
                }
                status = ifStuck(then: .text(next.rawValue), otherwise: status ?? .column("status"))
                stuckStep = ifStuck(then: .null("text"), otherwise: stuckStepBefore)
                stuckCompensating = ifStuck(then: .null("boolean"), otherwise: stuckCompensatingBefore)
                stuckIsComputed = true
            }
        }

        /// The `UPDATE` of saga `sagaId`'s row.
        func statement(sagaId: String) -> PostgresQuery {
            var bindings = PostgresBindings()
            var assignments = [
                "last_sequence = \(Expression.integer(sequence).sql(&bindings))",
                "updated_at = \(Expression.time(time).sql(&bindings))",
            ]
            let columns: [(String, Expression?)] = [
                ("status", status), ("step", step), ("failure", failure), ("finished_at", finishedAt),
                ("stuck_step", stuckStep), ("stuck_compensating", stuckCompensating),
            ]
            for case (let column, let value?) in columns {
                assignments.append("\(column) = \(value.sql(&bindings))")
            }
            let sql = "UPDATE order_board SET " + assignments.joined(separator: ", ")
                + " WHERE saga_id = \(Expression.text(sagaId).sql(&bindings))"
            return PostgresQuery(sql: sql, bindings: bindings)
        }
    }

    /// The statements of one event on one saga's row.
    private struct Row {
        let sagaId: String
        let sequence: Int
        let time: Date

        func update(
            status: SagaStatus? = nil, step: String? = nil, failure: String? = nil, finished: Bool = false,
            clearFailure: Bool = false, stuck: Stuck? = nil, clearStuck: Bool = false
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

        /// See ``Change/unstick(step:compensating:status:)``.
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
