public import Foundation
public import Skald

/// One saga in a listing: the `sagas` snapshot without its state.
public struct SagaSummary: Sendable, Hashable, Encodable {
    /// The saga id.
    public var sagaId: String
    /// The saga type.
    public var sagaType: String
    /// The definition version the instance runs.
    public var version: Int
    /// Its status.
    public var status: SagaStatus
    /// The step (or group) it is at or stuck on; nil when finished.
    public var currentStep: String?
    /// The business key, e.g. the order id.
    public var businessKey: String?
    /// Why it waits for an operator, when it does.
    public var stuckReason: String?
    /// When it started.
    public var createdAt: Date
    /// Time of its last event.
    public var updatedAt: Date
}

/// One step of a saga as its snapshot has it: "completed and remaining steps".
public struct SagaStepView: Sendable, Hashable, Codable {
    /// The step name.
    public var name: String
    /// `compensatable`, `pivot` or `retriable`.
    public var kind: String
    /// The forward phase: `pending`, `running`, `succeeded`, `failed`, `timed-out`, `skipped`…
    public var phase: String
    /// The compensation phase: `none`, `running`, `done`…
    public var compensation: String
    /// The latest attempt sent; 0 before the first.
    public var attempt: Int
}

/// One entry of the audit log: what an operator asked and what came of it.
public struct SagaAuditEntry: Sendable, Hashable, Encodable {
    /// `abort`, `retry` or `skip`.
    public var action: String
    /// Who asked.
    public var actor: String
    /// Why, in their words.
    public var reason: String
    /// `applied`, `no change`, or why it was refused.
    public var outcome: String
    /// When.
    public var at: Date
}

/// A saga in full (`GET /api/v1/sagas/{id}`): the snapshot, its user state, every step and
/// the operator actions taken on it.
public struct SagaDetail: Sendable, Hashable, Encodable {
    /// What a listing shows.
    public var summary: SagaSummary
    /// The user state, as the snapshot stores it.
    public var state: JSONValue
    /// Every step in definition order: completed, running and remaining.
    public var steps: [SagaStepView]
    /// The sequence of its last event (the length of its timeline).
    public var lastSequence: Int
    /// The W3C trace context the saga's messages carry.
    public var traceparent: String?
    /// Operator actions, oldest first.
    public var audit: [SagaAuditEntry]
    /// The timers armed for it (step timeouts, retry backoffs, its deadline), earliest first:
    /// what it waits for, and when it acts on its own if nothing arrives.
    public var timers: [SagaTimerView] = []
    /// When the timer service looks at it next (never after its earliest timer); nil when no
    /// timer is armed.
    public var wakeAt: Date?

    private enum CodingKeys: String, CodingKey {
        case sagaId, sagaType, version, status, currentStep, businessKey, stuckReason, createdAt, updatedAt
        case state, steps, lastSequence, traceparent, audit, timers, wakeAt
    }

    /// The summary's fields at the top level, beside the detail's.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(summary.sagaId, forKey: .sagaId)
        try container.encode(summary.sagaType, forKey: .sagaType)
        try container.encode(summary.version, forKey: .version)
        try container.encode(summary.status, forKey: .status)
        try container.encodeIfPresent(summary.currentStep, forKey: .currentStep)
        try container.encodeIfPresent(summary.businessKey, forKey: .businessKey)
        try container.encodeIfPresent(summary.stuckReason, forKey: .stuckReason)
        try container.encode(summary.createdAt, forKey: .createdAt)
        try container.encode(summary.updatedAt, forKey: .updatedAt)
        try container.encode(state, forKey: .state)
        try container.encode(steps, forKey: .steps)
        try container.encode(lastSequence, forKey: .lastSequence)
        try container.encodeIfPresent(traceparent, forKey: .traceparent)
        try container.encode(audit, forKey: .audit)
        try container.encode(timers, forKey: .timers)
        try container.encodeIfPresent(wakeAt, forKey: .wakeAt)
    }
}

/// A timer armed for a saga, in its detail.
public struct SagaTimerView: Sendable, Hashable, Encodable {
    /// `step-timeout`, `step-retry`, `compensation-timeout`, `compensation-retry` or `deadline`.
    public var kind: String
    /// The step it is about; nil for the deadline.
    public var step: String?
    /// The attempt it is about; nil for the deadline.
    public var attempt: Int?
    /// When it is due.
    public var due: Date

    /// A view of an armed timer.
    public init(kind: String, step: String?, attempt: Int?, due: Date) {
        self.kind = kind
        self.step = step
        self.attempt = attempt
        self.due = due
    }
}

/// One event of a saga's timeline (`GET /api/v1/sagas/{id}/events`), as stored.
public struct SagaTimelineEntry: Sendable, Hashable, Encodable {
    /// Its place in the saga's log, from 1.
    public var sequence: Int
    /// The event type, e.g. `step.command-sent`.
    public var type: String
    /// When it was recorded (the engine's `now` for the decision).
    public var recordedAt: Date
    /// The event's stable JSON, exactly the fields replay reads.
    public var event: JSONValue
}

/// A page of a saga listing.
public struct SagaListPage: Sendable, Hashable {
    /// The sagas, newest first.
    public var sagas: [SagaSummary]
    /// Where the next page starts; nil on the last page.
    public var next: SagaListCursor?
}

/// How many sagas of one type are in one status.
public struct SagaStatusCount: Sendable, Hashable, Encodable {
    /// The saga type.
    public var sagaType: String
    /// The status.
    public var status: SagaStatus
    /// How many.
    public var count: Int
}
