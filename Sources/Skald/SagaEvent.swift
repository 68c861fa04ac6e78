public import Foundation

/// One fact in a saga's life, appended to `saga_events` and never changed.
///
/// On disk every event is a JSON object with an explicit `type` discriminator
/// (e.g. `step.succeeded`) and a `schema` version, written and read by hand
/// rather than by Swift's synthesized enum coding, so that renaming a Swift case
/// can never orphan a log kept for years. Payloads stay typed in memory and are
/// encoded only at the storage edge.
public struct SagaEvent: Sendable, Equatable {
    /// The position in the saga's log, from 1.
    public var sequence: Int
    /// When the engine decided it (the `now` it was given, to the microsecond).
    public var time: Date
    /// What happened.
    public var kind: Kind

    /// Creates an event.
    public init(sequence: Int, time: Date, kind: Kind) {
        self.sequence = sequence
        self.time = time
        self.kind = kind
    }

    /// Why compensation began.
    public enum CompensationReason: String, Sendable, Hashable, Codable {
        /// A step replied with a final failure.
        case stepFailed = "step-failed"
        /// A step timed out on every attempt; its outcome is unknown.
        case stepTimedOut = "step-timed-out"
        /// The saga deadline passed before the pivot.
        case deadlineExceeded = "deadline-exceeded"
        /// An operator aborted the saga.
        case aborted
    }

    /// Why a step was skipped by the engine.
    public enum SkipReason: String, Sendable, Hashable, Codable {
        /// Its `when` predicate was false.
        case condition
    }

    /// Which operator command, in rejection events.
    public enum OperatorAction: String, Sendable, Hashable, Codable {
        /// Abort: compensate what was done.
        case abort
        /// Retry what is stuck, with a fresh attempt budget.
        case retry
        /// Skip a step or compensation the operator handled by hand.
        case skip
    }

    /// Every kind of fact. Each case maps to one stable `type` string.
    public enum Kind: Sendable, Equatable {
        /// The saga began with this state (recorded, so a newer definition replays the same start).
        case started(trigger: String, state: Payload, deadline: Date?)
        /// A step's command went out.
        case stepCommandSent(step: StepRef, attempt: Int, commandId: String)
        /// A reply meaning success arrived; its handler updated the state.
        case stepSucceeded(step: StepRef, attempt: Int?, reply: String, messageId: String, payload: Payload)
        /// A reply meaning failure arrived; its handler updated the state.
        case stepFailed(step: StepRef, attempt: Int?, reply: String, messageId: String, payload: Payload)
        /// An attempt got no reply in time: its outcome is unknown.
        case stepTimedOut(step: StepRef, attempt: Int)
        /// Attempt `attempt` will be sent at `due`.
        case stepRetryScheduled(step: StepRef, attempt: Int, due: Date)
        /// The step did not run.
        case stepSkipped(step: StepRef, reason: SkipReason)
        /// An operator declared the step done by hand.
        case stepSkippedByOperator(step: StepRef, actor: String)
        /// The saga started undoing what it did.
        case compensationStarted(reason: CompensationReason, step: StepRef?)
        /// A compensation command went out.
        case compensationSent(step: StepRef, attempt: Int, commandId: String)
        /// The compensation was confirmed.
        case compensationSucceeded(step: StepRef, attempt: Int?, reply: String, messageId: String)
        /// The compensation was refused (`reply` set) or timed out (`reply` nil).
        case compensationFailed(step: StepRef, attempt: Int, reply: String?)
        /// Compensation attempt `attempt` will be sent at `due`.
        case compensationRetryScheduled(step: StepRef, attempt: Int, due: Date)
        /// An operator declared the compensation done by hand.
        case compensationSkippedByOperator(step: StepRef, actor: String)
        /// Every step that ran succeeded.
        case completed
        /// Everything that needed undoing was undone.
        case compensated
        /// The engine cannot go on without a person: `step` is stuck.
        case failedNeedsOperator(step: StepRef, compensating: Bool, reason: String)
        /// An operator asked to abort.
        case abortRequested(actor: String, reason: String)
        /// An operator asked to retry the stuck step or compensation with a fresh budget.
        case retryRequested(step: StepRef, compensating: Bool, actor: String)
        /// An operator command that does not apply in the current status.
        case operatorCommandRejected(action: OperatorAction, actor: String, step: String?, reason: String)
        /// The saga deadline passed (after the pivot it is recorded only).
        case deadlineExceeded
        /// An input that changes nothing: a duplicate, late or unknown reply, a reply to a finished saga.
        /// `causationId` is the input's `ce_causationid`, kept so a replay check can feed the same input again.
        case inputIgnored(messageType: String, messageId: String?, step: String?, causationId: String?, reason: String)
    }
}

/// A step named in an event: the name is what is stored, the index is a cache
/// filled in by the definition that wrote or read the event (-1 when unknown).
public struct StepRef: Sendable, Hashable, CustomStringConvertible {
    /// The step's name.
    public let name: String
    /// Its index in the definition, or -1.
    public let index: Int

    /// A reference by name and index.
    public init(name: String, index: Int) {
        self.name = name
        self.index = index
    }

    /// The name.
    public var description: String { name }

    /// Equal names are the same step, whatever the cached index.
    public static func == (lhs: StepRef, rhs: StepRef) -> Bool { lhs.name == rhs.name }

    /// Hashes the name.
    public func hash(into hasher: inout Hasher) { hasher.combine(name) }
}

extension SagaEvent.Kind {
    /// The stable `type` discriminator written to disk.
    public var typeName: String {
        switch self {
        case .started: "saga.started"
        case .stepCommandSent: "step.command-sent"
        case .stepSucceeded: "step.succeeded"
        case .stepFailed: "step.failed"
        case .stepTimedOut: "step.timed-out"
        case .stepRetryScheduled: "step.retry-scheduled"
        case .stepSkipped: "step.skipped"
        case .stepSkippedByOperator: "step.skipped-by-operator"
        case .compensationStarted: "compensation.started"
        case .compensationSent: "compensation.command-sent"
        case .compensationSucceeded: "compensation.succeeded"
        case .compensationFailed: "compensation.failed"
        case .compensationRetryScheduled: "compensation.retry-scheduled"
        case .compensationSkippedByOperator: "compensation.skipped-by-operator"
        case .completed: "saga.completed"
        case .compensated: "saga.compensated"
        case .failedNeedsOperator: "saga.failed-needs-operator"
        case .abortRequested: "operator.abort-requested"
        case .retryRequested: "operator.retry-requested"
        case .operatorCommandRejected: "operator.command-rejected"
        case .deadlineExceeded: "saga.deadline-exceeded"
        case .inputIgnored: "saga.input-ignored"
        }
    }

    /// Every type string this version reads and writes.
    public static let allTypeNames: [String] = [
        "saga.started", "step.command-sent", "step.succeeded", "step.failed", "step.timed-out",
        "step.retry-scheduled", "step.skipped", "step.skipped-by-operator", "compensation.started",
        "compensation.command-sent", "compensation.succeeded", "compensation.failed",
        "compensation.retry-scheduled", "compensation.skipped-by-operator", "saga.completed", "saga.compensated",
        "saga.failed-needs-operator", "operator.abort-requested", "operator.retry-requested",
        "operator.command-rejected", "saga.deadline-exceeded", "saga.input-ignored",
    ]

    /// The step the event is about, if any.
    public var step: StepRef? {
        switch self {
        case .stepCommandSent(let step, _, _), .stepSucceeded(let step, _, _, _, _), .stepFailed(let step, _, _, _, _),
            .stepTimedOut(let step, _), .stepRetryScheduled(let step, _, _), .stepSkipped(let step, _),
            .stepSkippedByOperator(let step, _), .compensationSent(let step, _, _),
            .compensationSucceeded(let step, _, _, _), .compensationFailed(let step, _, _),
            .compensationRetryScheduled(let step, _, _), .compensationSkippedByOperator(let step, _),
            .failedNeedsOperator(let step, _, _), .retryRequested(let step, _, _):
            return step
        case .compensationStarted(_, let step):
            return step
        default:
            return nil
        }
    }
}
