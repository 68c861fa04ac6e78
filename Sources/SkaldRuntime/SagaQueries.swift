import Foundation
import Skald
public import SkaldPostgres

/// Reads saga state for people: listings and searches, one saga in full, its timeline, counts.
///
/// The read side of the saga store, behind the admin API. Every query reads the `sagas`
/// snapshot or one saga's log through an index; none folds events or scans the log.
public struct SagaQueries: Sendable {
    /// Where it reads.
    public let pool: PostgresPool

    /// Queries over `pool`, whose connections have Skald's schema on their search path.
    public init(pool: PostgresPool) {
        self.pool = pool
    }

    /// The sagas `filter` selects, newest first, `limit` of them after `cursor`.
    ///
    /// - Parameter limit: 1 to 1,000.
    public func list(_ filter: SagaListFilter, limit: Int, after cursor: SagaListCursor? = nil) async throws -> SagaListPage {
        precondition((1...1000).contains(limit), "a page holds 1 to 1,000 sagas")
        var conditions: [String] = []
        var values: [PostgresValue] = []
        func bind(_ value: PostgresValue) -> String {
            values.append(value)
            return "$\(values.count)"
        }
        if filter.statuses.count == 1, let status = filter.statuses.first {
            // `=` rather than `= ANY`: the planner then walks sagas_by_status (status, created_at DESC)
            // in the listing's order instead of collecting every saga in that status and sorting.
            conditions.append("status = \(bind(PostgresValue(status.rawValue)))")
        } else if !filter.statuses.isEmpty {
            conditions.append("status = ANY(\(bind(PostgresValue("{" + filter.statuses.map(\.rawValue).joined(separator: ",") + "}")))::text[])")
        }
        if let sagaType = filter.sagaType { conditions.append("saga_type = \(bind(PostgresValue(sagaType)))") }
        if let key = filter.businessKey { conditions.append("business_key = \(bind(PostgresValue(key)))") }
        if let quiet = filter.stuckFor {
            conditions.append(Self.stuck(quietSeconds: bind(PostgresValue(Self.seconds(quiet)))))
        }
        if let cursor {
            conditions.append(
                "(created_at, saga_id) < (timestamptz 'epoch' + \(bind(PostgresValue(Int(cursor.createdAtMicros))))::bigint * interval '1 microsecond', \(bind(PostgresValue(cursor.sagaId))))"
            )
        }
        let sql = """
            SELECT \(Self.summaryColumns), (extract(epoch FROM created_at) * 1000000)::bigint
            FROM sagas\(conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND "))
            ORDER BY created_at DESC, saga_id DESC
            LIMIT \(bind(PostgresValue(limit + 1)))
            """
        let rows = try await pool.withConnection { connection in
            try await connection.query(PostgresQuery(sql, values))
        }
        var sagas: [SagaSummary] = []
        var last: SagaListCursor?
        for row in rows.prefix(limit) {
            let summary = try Self.summary(row)
            sagas.append(summary)
            last = SagaListCursor(createdAtMicros: Int64(try row.decode(Int.self, at: 9)), sagaId: summary.sagaId)
        }
        return SagaListPage(sagas: sagas, next: rows.count > limit ? last : nil)
    }

    /// The saga with this id in full; nil when there is none.
    public func saga(id sagaId: String) async throws -> SagaDetail? {
        let (rows, audit, legacy) = try await pool.withConnection { connection in
            let rows = try await connection.query(
                PostgresQuery(
                    """
                    SELECT \(Self.summaryColumns), state::text, steps::text, last_sequence, traceparent, timers, wake_at
                    FROM sagas WHERE saga_id = $1
                    """,
                    [PostgresValue(sagaId)]))
            let audit = try await connection.query(
                "SELECT action, actor, reason, outcome, at FROM audit_log WHERE saga_id = \(sagaId) ORDER BY id")
            // Timers an earlier version armed (before 0011) are rows of their own.
            let legacy = try await connection.query(
                "SELECT kind, step, attempt, due_at FROM timers WHERE saga_id = \(sagaId)")
            return (rows, audit, legacy)
        }
        guard let row = rows.first else { return nil }
        let decoder = JSONDecoder()
        var detail = SagaDetail(
            summary: try Self.summary(row),
            state: try decoder.decode(JSONValue.self, from: Data(try row.textBytes(at: 9) ?? Array("null".utf8))),
            steps: try decoder.decode([SagaStepView].self, from: Data(try row.textBytes(at: 10) ?? Array("[]".utf8))),
            lastSequence: try row.decode(Int.self, at: 11),
            traceparent: try row.decode(String?.self, at: 12),
            audit: try audit.map { entry in
                SagaAuditEntry(
                    action: try entry.decode(String.self, at: 0), actor: try entry.decode(String.self, at: 1),
                    reason: try entry.decode(String.self, at: 2), outcome: try entry.decode(String.self, at: 3),
                    at: try entry.decode(Date.self, at: 4))
            }
        )
        // A timers column the pump cannot read either (it logs that) shows as none, rather than
        // failing the whole page.
        let armed = (try? PendingTimers(text: try row.decode(String?.self, at: 13)))?.timers ?? []
        var timers = armed.map { SagaTimerView(kind: $0.kind.name, step: $0.kind.step, attempt: $0.kind.attempt, due: $0.due) }
        for timer in legacy {
            timers.append(
                SagaTimerView(
                    kind: try timer.decode(String.self, at: 0), step: try timer.decode(String?.self, at: 1),
                    attempt: try timer.decode(Int?.self, at: 2), due: try timer.decode(Date.self, at: 3)))
        }
        detail.timers = timers.sorted { $0.due < $1.due }
        detail.wakeAt = try row.decode(Date?.self, at: 14)
        return detail
    }

    /// The saga's events after `sequence`, oldest first, at most `limit` of them.
    ///
    /// - Returns: nil when there is no saga with this id.
    public func events(sagaId: String, after sequence: Int = 0, limit: Int = 1000) async throws -> [SagaTimelineEntry]? {
        let (exists, rows) = try await pool.withConnection { connection in
            let exists = try await connection.query("SELECT 1 FROM sagas WHERE saga_id = \(sagaId)")
            let rows = try await connection.query(
                """
                SELECT sequence, event_type, recorded_at, event::text FROM saga_events
                WHERE saga_id = \(sagaId) AND sequence > \(sequence) ORDER BY sequence LIMIT \(limit)
                """)
            return (!exists.isEmpty, rows)
        }
        // A log without a snapshot cannot be written (same transaction), but an empty
        // answer for an unknown id would read as "no events yet".
        guard exists || !rows.isEmpty else { return nil }
        let decoder = JSONDecoder()
        return try rows.map { row in
            SagaTimelineEntry(
                sequence: try row.decode(Int.self, at: 0), type: try row.decode(String.self, at: 1),
                recordedAt: try row.decode(Date.self, at: 2),
                event: try decoder.decode(JSONValue.self, from: Data(try row.textBytes(at: 3) ?? Array("null".utf8))))
        }
    }

    /// How many sagas there are of each type in each status (the dashboard's tiles).
    ///
    /// Counts every row of `sagas`: fine for a dashboard refreshed every few seconds on a
    /// store of some millions of sagas, not for a hot path.
    public func counts() async throws -> [SagaStatusCount] {
        let rows = try await pool.withConnection { connection in
            try await connection.query(
                "SELECT saga_type, status, count(*)::bigint FROM sagas GROUP BY saga_type, status ORDER BY saga_type, status")
        }
        return try rows.map { row in
            let status = try row.decode(String.self, at: 1)
            return SagaStatusCount(
                sagaType: try row.decode(String.self, at: 0), status: SagaStatus(rawValue: status) ?? .notStarted,
                count: try row.decode(Int.self, at: 2))
        }
    }

    /// How many sagas are stuck: waiting for an operator, or running or compensating with no
    /// event for `quiet` (what ``SagaListFilter/stuckFor`` lists).
    public func countStuck(quietFor quiet: Duration) async throws -> Int {
        let rows = try await pool.withConnection { connection in
            try await connection.query(
                PostgresQuery("SELECT count(*)::bigint FROM sagas WHERE " + Self.stuck(quietSeconds: "$1"), [PostgresValue(Self.seconds(quiet))]))
        }
        return try rows.first?.decode(Int.self, at: 0) ?? 0
    }

    /// The condition "stuck": waiting for an operator, or running or compensating with no event
    /// for the seconds in parameter `quietSeconds` (one definition for listings and counts).
    static func stuck(quietSeconds: String) -> String {
        """
        (status = 'failed_needs_operator' OR (status IN ('running', 'compensating') \
        AND updated_at < now() - make_interval(secs => \(quietSeconds)::float8)))
        """
    }

    /// The columns ``summary(_:)`` reads, in its order.
    static let summaryColumns =
        "saga_id, saga_type, definition_version, status, current_step, business_key, stuck_reason, created_at, updated_at"

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    static func summary(_ row: PostgresRow) throws -> SagaSummary {
        let status = try row.decode(String.self, at: 3)
        guard let parsed = SagaStatus(rawValue: status) else {
            throw SagaRuntimeError("saga \(try row.decode(String.self, at: 0)) has an unknown status '\(status)'")
        }
        return SagaSummary(
            sagaId: try row.decode(String.self, at: 0), sagaType: try row.decode(String.self, at: 1),
            version: try row.decode(Int.self, at: 2), status: parsed, currentStep: try row.decode(String?.self, at: 4),
            businessKey: try row.decode(String?.self, at: 5), stuckReason: try row.decode(String?.self, at: 6),
            createdAt: try row.decode(Date.self, at: 7), updatedAt: try row.decode(Date.self, at: 8))
    }
}
