import Foundation
import Skald
import SkaldPostgres

/// Everything one batch of decisions writes, gathered so each table gets one statement.
struct BatchWrites {
    private var events = JSONRecords()
    private var snapshots: [String: SagaSnapshot] = [:]
    private(set) var touchedSagas: [String] = []
    private var outbox = JSONRecords()
    private var timers = JSONRecords()
    private var cancelledTimers: [String] = []
    private var correlations = JSONRecords()
    private var traces: [String: String] = [:]
    private(set) var commandCount = 0
    private(set) var decisions = 0

    init() {}

    mutating func add(_ decision: RuntimeDecision) {
        decisions += 1
        let snapshot = decision.snapshot
        let sagaId = snapshot.sagaId
        if snapshots[sagaId] == nil { touchedSagas.append(sagaId) }
        snapshots[sagaId] = snapshot
        for event in decision.events {
            events.beginRecord()
            events.field("saga_id", sagaId)
            events.field("sequence", event.sequence)
            events.field("event_type", event.type)
            events.field("recorded_at", Timestamp.format(event.time))
            events.field("event", json: event.data)
            events.endRecord()
        }
        for command in decision.commands {
            outbox.beginRecord()
            outbox.field("lane", OutboxRelay.lane(ofSaga: sagaId))
            outbox.field("message_id", command.id)
            outbox.field("saga_id", sagaId)
            outbox.field("topic", command.topic)
            outbox.field("message_key", command.key)
            outbox.field("headers", pairs: command.envelope.headers())
            outbox.field("payload", json: command.payload)
            outbox.endRecord()
            commandCount += 1
        }
        for timer in decision.timers {
            timers.beginRecord()
            timers.field("timer_id", timer.id)
            timers.field("saga_id", sagaId)
            timers.field("saga_type", snapshot.sagaType)
            timers.field("kind", timer.kind.name)
            timers.field("step", timer.kind.step)
            timers.field("attempt", timer.kind.attempt)
            timers.field("due_at", Timestamp.format(timer.due))
            timers.endRecord()
        }
        cancelledTimers.append(contentsOf: decision.cancelledTimers)
    }

    /// The W3C trace context a new saga started with, kept on its `sagas` row.
    mutating func trace(sagaId: String, traceparent: String) {
        traces[sagaId] = traceparent
    }

    mutating func correlate(sagaType: String, key: String, sagaId: String) {
        correlations.beginRecord()
        correlations.field("saga_type", sagaType)
        correlations.field("correlation_key", key)
        correlations.field("saga_id", sagaId)
        correlations.endRecord()
    }

    /// The statements, in an order that respects the foreign relations between tables.
    func statements() -> [PostgresQuery] {
        var statements: [PostgresQuery] = []
        if events.count > 0 {
            statements.append(
                """
                INSERT INTO saga_events (saga_id, sequence, event_type, recorded_at, event)
                SELECT x.saga_id, x.sequence, x.event_type, x.recorded_at, x.event
                FROM json_to_recordset(\(events.text)::json)
                  AS x(saga_id text, sequence integer, event_type text, recorded_at timestamptz, event json)
                """
            )
        }
        if !snapshots.isEmpty {
            var rows = JSONRecords()
            for sagaId in touchedSagas {
                guard let snapshot = snapshots[sagaId] else { continue }
                var steps = JSONRecords()
                for step in snapshot.steps {
                    steps.beginRecord()
                    steps.field("name", step.name)
                    steps.field("kind", step.kind.rawValue)
                    steps.field("phase", step.phase.rawValue)
                    steps.field("compensation", step.compensation.rawValue)
                    steps.field("attempt", step.attempt)
                    steps.endRecord()
                }
                rows.beginRecord()
                rows.field("saga_id", sagaId)
                rows.field("saga_type", snapshot.sagaType)
                rows.field("definition_version", snapshot.version)
                rows.field("status", snapshot.status.rawValue)
                rows.field("current_step", snapshot.currentStep)
                rows.field("state", json: snapshot.state)
                rows.field("steps", json: Array(steps.text.utf8))
                rows.field("business_key", snapshot.businessKey.isEmpty ? nil : snapshot.businessKey)
                rows.field("stuck_reason", snapshot.stuckReason)
                rows.field("traceparent", traces[sagaId])
                rows.field("last_sequence", snapshot.lastSequence)
                rows.field("created_at", snapshot.startedAt.map(Timestamp.format))
                rows.field("updated_at", snapshot.updatedAt.map(Timestamp.format))
                rows.endRecord()
            }
            statements.append(
                """
                INSERT INTO sagas (saga_id, saga_type, definition_version, status, current_step, state, steps,
                                   business_key, stuck_reason, traceparent, last_sequence, created_at, updated_at)
                SELECT x.saga_id, x.saga_type, x.definition_version, x.status, x.current_step, x.state, x.steps,
                       x.business_key, x.stuck_reason, x.traceparent, x.last_sequence,
                       coalesce(x.created_at, now()), coalesce(x.updated_at, now())
                FROM json_to_recordset(\(rows.text)::json) AS x(
                    saga_id text, saga_type text, definition_version integer, status text, current_step text,
                    state json, steps json, business_key text, stuck_reason text, traceparent text, last_sequence integer,
                    created_at timestamptz, updated_at timestamptz)
                ON CONFLICT (saga_id) DO UPDATE SET
                    status = EXCLUDED.status, current_step = EXCLUDED.current_step, state = EXCLUDED.state,
                    steps = EXCLUDED.steps, business_key = EXCLUDED.business_key,
                    stuck_reason = EXCLUDED.stuck_reason, last_sequence = EXCLUDED.last_sequence,
                    traceparent = coalesce(sagas.traceparent, EXCLUDED.traceparent),
                    updated_at = EXCLUDED.updated_at
                """
            )
        }
        if outbox.count > 0 {
            statements.append(
                """
                INSERT INTO outbox (lane, message_id, saga_id, topic, message_key, headers, payload)
                SELECT x.lane, x.message_id, x.saga_id, x.topic, x.message_key, x.headers, x.payload
                FROM json_to_recordset(\(outbox.text)::json) AS x(
                    lane smallint, message_id text, saga_id text, topic text, message_key text,
                    headers json, payload json)
                ON CONFLICT (message_id) DO NOTHING
                """
            )
        }
        if !cancelledTimers.isEmpty {
            statements.append(
                """
                DELETE FROM timers
                WHERE timer_id IN (SELECT json_array_elements_text(\(JSONRecords.array(cancelledTimers))::json))
                """
            )
        }
        if timers.count > 0 {
            statements.append(
                """
                INSERT INTO timers (timer_id, saga_id, saga_type, kind, step, attempt, due_at)
                SELECT x.timer_id, x.saga_id, x.saga_type, x.kind, x.step, x.attempt, x.due_at
                FROM json_to_recordset(\(timers.text)::json) AS x(
                    timer_id text, saga_id text, saga_type text, kind text, step text, attempt integer,
                    due_at timestamptz)
                ON CONFLICT (timer_id) DO NOTHING
                """
            )
        }
        if correlations.count > 0 {
            statements.append(
                """
                INSERT INTO correlations (saga_type, correlation_key, saga_id)
                SELECT x.saga_type, x.correlation_key, x.saga_id
                FROM json_to_recordset(\(correlations.text)::json)
                  AS x(saga_type text, correlation_key text, saga_id text)
                ON CONFLICT DO NOTHING
                """
            )
        }
        if commandCount > 0 {
            statements.append("SELECT pg_notify(\(OutboxRelay.notificationChannel), '')")
        }
        return statements
    }
}
