import Foundation
import Skald
import SkaldPostgres

/// Everything one batch of decisions writes, gathered so each table gets one statement.
///
/// Each statement takes its rows as one binary array per column (``PostgresArrayWriter``).
struct BatchWrites {
    /// Where every event is mirrored through the outbox (``OrchestratorConfiguration/sagaEventsTopic``); nil: nowhere.
    private let sagaEventsTopic: String?
    /// The type of the store's document columns, which the arrays of documents are bound as.
    private let documents: SagaDocumentColumns
    private var events: EventRows
    /// What the batch writes of each saga's row, by saga id.
    private var sagas: [String: TouchedSaga] = [:]
    /// Sagas this batch starts: their `sagas` row is inserted, the others' updated.
    private var startedSagas: Set<String> = []
    private(set) var touchedSagas: [String] = []
    private var outbox = OutboxRows()
    private var correlations = CorrelationRows()
    private var traces: [String: String] = [:]
    private(set) var commandCount = 0
    /// Events mirrored (through range rows), for the relay's wake-up.
    private(set) var mirroredCount = 0
    private(set) var decisions = 0
    /// The decisions' milestones, for the metrics once the transaction commits.
    private(set) var milestones: [(sagaType: String, milestone: SagaMilestone)] = []

    /// - Parameter expectedDecisions: the batch's inputs, to size its tables of sagas once
    ///   instead of rehashing them as they grow (0: no guess).
    init(sagaEventsTopic: String? = nil, documents: SagaDocumentColumns, expectedDecisions: Int = 0) {
        self.sagaEventsTopic = sagaEventsTopic
        self.documents = documents
        events = EventRows(documents: documents)
        sagas.reserveCapacity(expectedDecisions)
        startedSagas.reserveCapacity(expectedDecisions)
        touchedSagas.reserveCapacity(expectedDecisions)
    }

    /// Adds a decision's writes. `startsSaga`: the decision was made on an instance the batch
    /// created, so the saga has no `sagas` row yet and gets one inserted; every other saga's
    /// row is updated. `handingIn`: the epoch its lane was claimed in, when its commands are
    /// to be handed to the relay after the commit (``OutboxHandoff``). `timers`: the saga's
    /// armed timers after the decision; `wake`: when its `saga_wakeups` row said to wake it
    /// before the decision and must say after it (nil: no row), and whether the row is to be
    /// written even if the two agree (``PendingTimers/WakeAction/set(_:)`` said so: the row
    /// might not say what the saga's `wake_at` does).
    mutating func add(
        _ decision: RuntimeDecision, startsSaga: Bool, handingIn handoffEpoch: Int? = nil,
        timers: PendingTimers = PendingTimers(), wake: (before: Date?, after: Date?, forced: Bool) = (nil, nil, false)
    ) {
        decisions += 1
        let snapshot = decision.snapshot
        let sagaId = snapshot.sagaId
        let wakeMoves = wake.before != wake.after || wake.forced
        if let touched = sagas.index(forKey: sagaId) {
            sagas.values[touched].snapshot = snapshot
            sagas.values[touched].timers = timers
            sagas.values[touched].wakeAfter = wake.after
            if wakeMoves { sagas.values[touched].wakeWritten = true }
        } else {
            sagas[sagaId] = TouchedSaga(
                snapshot: snapshot, timers: timers, wakeBefore: wake.before, wakeAfter: wake.after, wakeWritten: wakeMoves)
            touchedSagas.append(sagaId)
        }
        if startsSaga { startedSagas.insert(sagaId) }
        for milestone in decision.milestones { milestones.append((snapshot.sagaType, milestone)) }
        for event in decision.events {
            events.sagaIds.append(sagaId)
            events.sequences.append(event.sequence)
            events.types.append(event.type)
            events.times.append(event.time)
            events.bodies.append(utf8: event.data)
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
                envelope: command.envelope, payload: command.payload, handingIn: handoffEpoch)
            commandCount += 1
        }
    }

    /// Whether the batch queued anything for the relay.
    var wroteOutbox: Bool { commandCount + mirroredCount > 0 }

    /// The W3C trace context a new saga started with, kept on its `sagas` row.
    mutating func trace(sagaId: String, traceparent: String) {
        traces[sagaId] = traceparent
    }

    mutating func correlate(sagaType: String, key: String, sagaId: String) {
        correlations.sagaTypes.append(sagaType)
        correlations.keys.append(key)
        correlations.sagaIds.append(sagaId)
    }

    /// The statements, in an order that respects the foreign relations between tables.
    ///
    /// - Parameter keysMustBeNew: updates snapshots only where the wake-up is what the batch
    ///   took it to be, and adds wake-up rows and maps business keys with statements that
    ///   fail the transaction on a saga, a wake-up or a key the tables hold
    ///   (``PumpStatements/addWakeups``, ``PumpStatements/correlateNew``), instead of
    ///   ones that set or keep what is there (``PumpStatements/setWakeups``,
    ///   ``PumpStatements/correlate``). The one-round-trip path sets it: it redoes a failed
    ///   batch under the row locks, without it.
    func statements(keysMustBeNew: Bool = false) -> [PostgresQuery] {
        statementsFindingOutbox(keysMustBeNew: keysMustBeNew).statements
    }

    /// ``statements(keysMustBeNew:)``, and which of them is the outbox insert, whose returned
    /// ids ``handoff(from:)`` needs.
    func statementsFindingOutbox(keysMustBeNew: Bool = false) -> (statements: [PostgresQuery], outboxIndex: Int?) {
        var statements: [PostgresQuery] = []
        var outboxIndex: Int?
        if events.sagaIds.count > 0 {
            statements.append(PostgresQuery(documents.statements.appendEvents, events.values))
        }
        var addedWakeups = WakeupRows()
        var setWakeups = WakeupRows()
        var removedWakeups = PostgresArrayWriter(of: .text)
        if !sagas.isEmpty {
            var inserted = SnapshotRows(documents: documents)
            var updated = SnapshotUpdateRows(documents: documents)
            for sagaId in touchedSagas {
                guard let saga = sagas[sagaId] else { continue }
                if startedSagas.contains(sagaId) {
                    inserted.append(saga.snapshot, traceparent: traces[sagaId], timers: saga.timers, wakeAt: saga.wakeAfter)
                } else {
                    updated.append(saga.snapshot, timers: saga.timers, wakeAt: saga.wakeAfter, wakeBefore: saga.wakeBefore)
                }
                // The row's change over the whole batch: a saga started and ended in one
                // batch never gets one.
                guard saga.wakeWritten else { continue }
                switch (saga.wakeBefore, saga.wakeAfter) {
                case (nil, nil):
                    break
                case (nil, let after?):
                    if keysMustBeNew {
                        addedWakeups.append(sagaId: sagaId, wakeAt: after)
                    } else {
                        setWakeups.append(sagaId: sagaId, wakeAt: after)
                    }
                case (_?, nil):
                    removedWakeups.append(sagaId)
                case (_?, let after?):
                    setWakeups.append(sagaId: sagaId, wakeAt: after)
                }
            }
            if inserted.sagaIds.count > 0 {
                statements.append(PostgresQuery(documents.statements.insertSnapshots, inserted.values))
            }
            if updated.sagaIds.count > 0 {
                statements.append(
                    keysMustBeNew
                        ? PostgresQuery(documents.statements.updateSnapshotsExpectingWakeups, updated.values + [updated.wakeBefore.value])
                        : PostgresQuery(documents.statements.updateSnapshots, updated.values))
            }
        }
        if outbox.count > 0 {
            outboxIndex = statements.count
            statements.append(outbox.statement)
        }
        if removedWakeups.count > 0 {
            statements.append(PostgresQuery(PumpStatements.removeWakeups, [removedWakeups.value]))
        }
        if addedWakeups.sagaIds.count > 0 {
            statements.append(PostgresQuery(PumpStatements.addWakeups, addedWakeups.values))
        }
        if setWakeups.sagaIds.count > 0 {
            statements.append(PostgresQuery(PumpStatements.setWakeups, setWakeups.values))
        }
        if correlations.sagaIds.count > 0 {
            statements.append(
                PostgresQuery(keysMustBeNew ? PumpStatements.correlateNew : PumpStatements.correlate, correlations.values))
        }
        // Rows handed over need no notification: the relay has them.
        if outbox.unhandedCount > 0 {
            statements.append(PostgresQuery(PumpStatements.notifyRelays))
        }
        return (statements, outboxIndex)
    }

    /// What to hand the relay once the transaction committed, given the outbox insert's
    /// returned rows (nil when the batch wrote no outbox row).
    func handoff(from inserted: PostgresRows?) throws -> PendingHandoff {
        guard outbox.count > 0 else { return .none }
        guard outbox.hands, let inserted else { return outbox.unhanded }
        return try outbox.handoff(from: inserted)
    }
}

extension BatchWrites {
    /// What a batch writes of one saga's row.
    private struct TouchedSaga {
        /// The snapshot after the batch's last decision on the saga.
        var snapshot: SagaSnapshot
        /// Its armed timers after that decision.
        var timers: PendingTimers
        /// When its `saga_wakeups` row said to wake it before the batch (nil: it had none).
        var wakeBefore: Date?
        /// When the row must say after the batch (nil: it must not exist).
        var wakeAfter: Date?
        /// Whether a decision of the batch changed the row (or asked for it to be written).
        var wakeWritten: Bool
    }

    /// `saga_events` rows, a column each (``PumpStatements/DocumentWrites/appendEvents``).
    struct EventRows {
        var sagaIds = PostgresArrayWriter(of: .text)
        var sequences = PostgresArrayWriter(of: .int4)
        var types = PostgresArrayWriter(of: .text)
        var times = PostgresArrayWriter(of: .timestamptz)
        var bodies: PostgresArrayWriter

        init(documents: SagaDocumentColumns) {
            bodies = PostgresArrayWriter(of: documents.element)
        }

        var values: [PostgresValue] {
            [sagaIds.value, sequences.value, types.value, times.value, bodies.value]
        }
    }

    /// The `steps` column of a snapshot, appended to `buffer` (the column array's, written in place).
    static func writeSteps(_ steps: [StepSnapshot], into buffer: inout [UInt8]) {
        JSONRecords.write(into: &buffer) { records in
            for step in steps {
                records.beginRecord()
                records.field("name", step.name)
                records.field("kind", step.kind.rawValue)
                records.field("phase", step.phase.rawValue)
                records.field("compensation", step.compensation.rawValue)
                records.field("attempt", step.attempt)
                records.endRecord()
            }
        }
    }

    /// New `sagas` rows, a column each (``PumpStatements/DocumentWrites/insertSnapshots``).
    struct SnapshotRows {
        var sagaIds = PostgresArrayWriter(of: .text)
        var sagaTypes = PostgresArrayWriter(of: .text)
        var versions = PostgresArrayWriter(of: .int4)
        var statuses = PostgresArrayWriter(of: .text)
        var currentSteps = PostgresArrayWriter(of: .text)
        var states: PostgresArrayWriter
        var steps: PostgresArrayWriter
        var businessKeys = PostgresArrayWriter(of: .text)
        var stuckReasons = PostgresArrayWriter(of: .text)
        var traceparents = PostgresArrayWriter(of: .text)
        var lastSequences = PostgresArrayWriter(of: .int4)
        var createdTimes = PostgresArrayWriter(of: .timestamptz)
        var updatedTimes = PostgresArrayWriter(of: .timestamptz)
        var pendingTimers = PostgresArrayWriter(of: .text)
        var wakeTimes = PostgresArrayWriter(of: .timestamptz)

        init(documents: SagaDocumentColumns) {
            states = PostgresArrayWriter(of: documents.element)
            steps = PostgresArrayWriter(of: documents.element)
        }

        mutating func append(_ snapshot: SagaSnapshot, traceparent: String?, timers: PendingTimers, wakeAt: Date?) {
            sagaIds.append(snapshot.sagaId)
            sagaTypes.append(snapshot.sagaType)
            versions.append(snapshot.version)
            statuses.append(snapshot.status.rawValue)
            currentSteps.append(snapshot.currentStep)
            states.append(utf8: snapshot.state)
            steps.appendText { BatchWrites.writeSteps(snapshot.steps, into: &$0) }
            businessKeys.append(snapshot.businessKey.isEmpty ? nil : snapshot.businessKey)
            stuckReasons.append(snapshot.stuckReason)
            traceparents.append(traceparent)
            lastSequences.append(snapshot.lastSequence)
            createdTimes.append(snapshot.startedAt)
            updatedTimes.append(snapshot.updatedAt)
            pendingTimers.append(timers)
            wakeTimes.append(wakeAt)
        }

        var values: [PostgresValue] {
            [
                sagaIds.value, sagaTypes.value, versions.value, statuses.value, currentSteps.value, states.value,
                steps.value, businessKeys.value, stuckReasons.value, traceparents.value, lastSequences.value,
                createdTimes.value, updatedTimes.value, pendingTimers.value, wakeTimes.value,
            ]
        }
    }

    /// Changed columns of existing `sagas` rows, a column each (``PumpStatements/DocumentWrites/updateSnapshots``).
    struct SnapshotUpdateRows {
        var sagaIds = PostgresArrayWriter(of: .text)
        var statuses = PostgresArrayWriter(of: .text)
        var currentSteps = PostgresArrayWriter(of: .text)
        var states: PostgresArrayWriter
        var steps: PostgresArrayWriter
        var businessKeys = PostgresArrayWriter(of: .text)
        var stuckReasons = PostgresArrayWriter(of: .text)
        var lastSequences = PostgresArrayWriter(of: .int4)
        var updatedTimes = PostgresArrayWriter(of: .timestamptz)
        var pendingTimers = PostgresArrayWriter(of: .text)
        var wakeTimes = PostgresArrayWriter(of: .timestamptz)

        /// When each saga's wake-up row said to wake it before the batch, for
        /// ``PumpStatements/DocumentWrites/updateSnapshotsExpectingWakeups``.
        var wakeBefore = PostgresArrayWriter(of: .timestamptz)

        init(documents: SagaDocumentColumns) {
            states = PostgresArrayWriter(of: documents.element)
            steps = PostgresArrayWriter(of: documents.element)
        }

        /// The columns that change; type, version, creation time and trace context stay as inserted.
        mutating func append(_ snapshot: SagaSnapshot, timers: PendingTimers, wakeAt: Date?, wakeBefore before: Date?) {
            sagaIds.append(snapshot.sagaId)
            statuses.append(snapshot.status.rawValue)
            currentSteps.append(snapshot.currentStep)
            states.append(utf8: snapshot.state)
            steps.appendText { BatchWrites.writeSteps(snapshot.steps, into: &$0) }
            businessKeys.append(snapshot.businessKey.isEmpty ? nil : snapshot.businessKey)
            stuckReasons.append(snapshot.stuckReason)
            lastSequences.append(snapshot.lastSequence)
            updatedTimes.append(snapshot.updatedAt)
            pendingTimers.append(timers)
            wakeTimes.append(wakeAt)
            wakeBefore.append(before)
        }

        var values: [PostgresValue] {
            [
                sagaIds.value, statuses.value, currentSteps.value, states.value, steps.value, businessKeys.value,
                stuckReasons.value, lastSequences.value, updatedTimes.value, pendingTimers.value, wakeTimes.value,
            ]
        }
    }

    /// `saga_wakeups` rows, a column each (``PumpStatements/addWakeups``, ``PumpStatements/setWakeups``).
    struct WakeupRows {
        var sagaIds = PostgresArrayWriter(of: .text)
        var wakeTimes = PostgresArrayWriter(of: .timestamptz)

        mutating func append(sagaId: String, wakeAt: Date) {
            sagaIds.append(sagaId)
            wakeTimes.append(wakeAt)
        }

        var values: [PostgresValue] {
            [sagaIds.value, wakeTimes.value]
        }
    }

    /// `correlations` rows, a column each (``PumpStatements/correlate``, ``PumpStatements/correlateNew``).
    struct CorrelationRows {
        var sagaTypes = PostgresArrayWriter(of: .text)
        var keys = PostgresArrayWriter(of: .text)
        var sagaIds = PostgresArrayWriter(of: .text)

        var values: [PostgresValue] {
            [sagaTypes.value, keys.value, sagaIds.value]
        }
    }
}

extension PostgresArrayWriter {
    /// Appends a saga's armed timers as a `text` element: their JSON array, or NULL when none is armed.
    mutating func append(_ timers: PendingTimers) {
        if timers.isEmpty {
            append(nil as String?)
        } else {
            appendText { timers.write(into: &$0) }
        }
    }
}
