import Foundation
import Skald
import SkaldPostgres

/// Everything one batch of decisions writes, gathered so each table gets one statement.
struct BatchWrites {
    /// Where every event is mirrored through the outbox (``OrchestratorConfiguration/sagaEventsTopic``); nil: nowhere.
    private let sagaEventsTopic: String?
    private var events = JSONRecords()
    private var snapshots: [String: SagaSnapshot] = [:]
    private(set) var touchedSagas: [String] = []
    private var outbox = OutboxRows()
    private var timers = JSONRecords()
    private var cancelledTimers: [String] = []
    private var correlations = JSONRecords()
    private var traces: [String: String] = [:]
    private(set) var commandCount = 0
    /// Events mirrored (through range rows), for the relay's wake-up.
    private(set) var mirroredCount = 0
    private(set) var decisions = 0
    /// The decisions' milestones, for the metrics once the transaction commits.
    private(set) var milestones: [(sagaType: String, milestone: SagaMilestone)] = []

    init(sagaEventsTopic: String? = nil) {
        self.sagaEventsTopic = sagaEventsTopic
    }

    mutating func add(_ decision: RuntimeDecision) {
        decisions += 1
        let snapshot = decision.snapshot
        let sagaId = snapshot.sagaId
        if snapshots[sagaId] == nil { touchedSagas.append(sagaId) }
        snapshots[sagaId] = snapshot
        for milestone in decision.milestones { milestones.append((snapshot.sagaType, milestone)) }
        for event in decision.events {
            events.beginRecord()
            events.field("saga_id", sagaId)
            events.field("sequence", event.sequence)
            events.field("event_type", event.type)
            events.field("recorded_at", Timestamp.format(event.time))
            events.field("event", json: event.data)
            events.endRecord()
        }
        if let sagaEventsTopic, let first = decision.events.first, let last = decision.events.last {
            // A decision's events are consecutive: one row names them all, in the outbox with
            // the commands, so the relay publishes the saga's events and commands in the order
            // they were written.
            outbox.appendEventRange(
                sagaId: sagaId, sagaType: snapshot.sagaType, version: snapshot.version,
                sequences: first.sequence...last.sequence, topic: sagaEventsTopic)
            mirroredCount += decision.events.count
        }
        for command in decision.commands {
            outbox.append(
                messageId: command.id, sagaId: sagaId, topic: command.topic, key: command.key,
                envelope: command.envelope, payload: command.payload)
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

    /// Whether the batch queued anything for the relay.
    var wroteOutbox: Bool { commandCount + mirroredCount > 0 }

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
            statements.append(PostgresQuery(PumpStatements.appendEvents, [events.value]))
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
                rows.field("steps", json: steps.closedBytes)
                rows.field("business_key", snapshot.businessKey.isEmpty ? nil : snapshot.businessKey)
                rows.field("stuck_reason", snapshot.stuckReason)
                rows.field("traceparent", traces[sagaId])
                rows.field("last_sequence", snapshot.lastSequence)
                rows.field("created_at", snapshot.startedAt.map(Timestamp.format))
                rows.field("updated_at", snapshot.updatedAt.map(Timestamp.format))
                rows.endRecord()
            }
            statements.append(PostgresQuery(PumpStatements.upsertSnapshots, [rows.value]))
        }
        if outbox.count > 0 {
            statements.append(outbox.statement)
        }
        if !cancelledTimers.isEmpty {
            statements.append(
                PostgresQuery(PumpStatements.cancelTimers, [PostgresValue(JSONRecords.array(cancelledTimers))]))
        }
        if timers.count > 0 {
            statements.append(PostgresQuery(PumpStatements.scheduleTimers, [timers.value]))
        }
        if correlations.count > 0 {
            statements.append(PostgresQuery(PumpStatements.correlate, [correlations.value]))
        }
        if wroteOutbox {
            statements.append(PostgresQuery(PumpStatements.notifyRelays))
        }
        return statements
    }
}
