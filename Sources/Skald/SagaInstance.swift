public import Foundation

/// Where a saga instance stands overall.
public enum SagaStatus: String, Sendable, Hashable, Codable, CaseIterable {
    /// No `saga.started` event yet.
    case notStarted = "not_started"
    /// Walking forward through its steps.
    case running
    /// Undoing what it did, in reverse order of completion.
    case compensating
    /// Every step that ran succeeded. Final.
    case completed
    /// Everything that needed undoing was undone. Final.
    case compensated
    /// Stuck until an operator (or a late reply) moves it: visible, never silently stuck.
    case failedNeedsOperator = "failed_needs_operator"

    /// Completed or compensated: nothing more will ever be sent.
    public var isFinal: Bool { self == .completed || self == .compensated }
}

/// Where one step stands.
public struct StepProgress: Sendable, Hashable {
    /// The forward phase of a step.
    public enum Phase: String, Sendable, Hashable, Codable {
        /// Not reached yet.
        case pending
        /// Its command is out; waiting for a reply or the timeout.
        case running
        /// Waiting for the retry timer.
        case waitingRetry = "waiting_retry"
        /// A success reply arrived.
        case succeeded
        /// A final failure reply arrived (or the retry was cancelled by compensation).
        case failed
        /// Every attempt timed out: the outcome is unknown.
        case timedOut = "timed_out"
        /// Its condition was false.
        case skipped
        /// An operator declared it done by hand.
        case skippedByOperator = "skipped_by_operator"
    }

    /// The compensation phase of a step.
    public enum CompensationPhase: String, Sendable, Hashable, Codable {
        /// Nothing to compensate, or not yet begun.
        case none
        /// The compensation command is out.
        case running
        /// The last attempt failed; deciding what next.
        case failed
        /// Waiting for the retry timer.
        case waitingRetry = "waiting_retry"
        /// Confirmed.
        case done
        /// An operator undid it by hand.
        case skippedByOperator = "skipped_by_operator"
    }

    // The stored properties are declared widest first: Swift lays them out in declaration
    // order, and with the one-byte ones between the integers each step took 64 bytes rather
    // than 48. A cached PlaceOrder instance holds five (docs/benchmarks-orchestrator.md, session 14).

    /// The latest attempt sent (0 = never sent).
    public var attempt = 0
    /// Attempts before this number do not count against the retry budget (an operator retry resets it).
    public var budgetStart = 0
    /// The latest compensation attempt sent.
    public var compensationAttempt = 0
    /// Compensation attempts before this number do not count against the budget.
    public var compensationBudgetStart = 0
    /// When the latest attempt's command was sent (the time of its `step.command-sent` event).
    public var commandSentAt: Date?
    /// The forward phase.
    public var phase: Phase = .pending
    /// The compensation phase.
    public var compensation: CompensationPhase = .none
    /// Some attempt timed out, so the step may have taken effect even if it later failed.
    public var outcomeUnknown = false

    /// Whether the step is done for the purpose of moving on.
    public var isSettledForward: Bool {
        phase == .succeeded || phase == .skipped || phase == .skippedByOperator
    }
}

/// The live state of one saga instance: the user's state plus the engine's bookkeeping.
///
/// It is exactly the fold of the instance's events (``SagaDefinition/evolve(_:_:)``),
/// so the `sagas` snapshot row can always be rebuilt from `saga_events`.
public struct SagaInstance<State: Codable & Sendable & Equatable>: Sendable {
    @usableFromInline var core: InstanceCore

    init(core: InstanceCore) {
        self.core = core
    }

    /// An empty instance, before its start event.
    public init(sagaId: String) {
        core = InstanceCore(sagaId: sagaId)
    }

    /// The saga id: key of every command and reply.
    public var sagaId: String { core.sagaId }
    /// Overall status.
    public var status: SagaStatus { core.status }
    /// The user's state (nil before the start event).
    public var data: State? { (core.data as? StateBox<State>)?.value }
    /// Sequence number of the last event applied (0 = none).
    public var lastSequence: Int { core.lastSequence }
    /// When the saga started.
    public var startedAt: Date? { core.startedAt }
    /// Time of the last event.
    public var updatedAt: Date? { core.updatedAt }
    /// When the saga deadline falls, if it has one.
    public var deadline: Date? { core.deadline }
    /// Whether the deadline passed (after the pivot it is only recorded).
    public var deadlineExceeded: Bool { core.deadlineExceeded }
    /// The node (single step or parallel group) the saga is at.
    public var currentNode: Int { core.currentNode }
    /// Per-step progress, indexed like the definition's steps.
    public var steps: [StepProgress] { core.steps }
    /// Steps that succeeded or may have taken effect, in the order that became known:
    /// compensation walks this backwards.
    public var completionOrder: [Int] { core.completionOrder }
    /// Whether the pivot succeeded: from then on nothing is compensated.
    public var pivotPassed: Bool { core.pivotPassed }
    /// Why compensation began.
    public var compensationReason: SagaEvent.CompensationReason? { core.compensationReason }
    /// What is stuck when the status is failed-needs-operator.
    public var stuck: StuckStep? { core.stuck }
}

extension SagaInstance: Equatable {
    /// Equal bookkeeping and equal user state.
    public static func == (lhs: SagaInstance, rhs: SagaInstance) -> Bool {
        lhs.core.sameBookkeeping(as: rhs.core) && lhs.data == rhs.data
    }
}

/// What an operator must look at.
public struct StuckStep: Sendable, Hashable {
    /// The step index.
    public var step: Int
    /// Whether its compensation (rather than its command) is stuck.
    public var compensating: Bool
    /// Why.
    public var reason: String
}

/// The instance as the engine core holds it: the user state type-erased.
@usableFromInline
struct InstanceCore: Sendable {
    let sagaId: String
    var status: SagaStatus = .notStarted
    var data: AnyState? {
        didSet { encodedState = nil }
    }
    /// `data` as the snapshot stores it, kept from the last snapshot until `data` is set again
    /// (a reply handler's update sets it): most replies leave the state as it was, and encoding
    /// it again for every transition was a twentieth of the orchestrator's CPU.
    var encodedState: [UInt8]?
    var lastSequence = 0
    var startedAt: Date?
    var updatedAt: Date?
    var deadline: Date?
    var deadlineExceeded = false
    var currentNode = 0
    var steps: [StepProgress] = []
    var completionOrder: [Int] = []
    var pivotPassed = false
    var compensationReason: SagaEvent.CompensationReason?
    var stuck: StuckStep?

    init(sagaId: String) {
        self.sagaId = sagaId
    }

    func sameBookkeeping(as other: InstanceCore) -> Bool {
        sagaId == other.sagaId && status == other.status && lastSequence == other.lastSequence
            && startedAt == other.startedAt && updatedAt == other.updatedAt && deadline == other.deadline
            && deadlineExceeded == other.deadlineExceeded && currentNode == other.currentNode && steps == other.steps
            && completionOrder == other.completionOrder && pivotPassed == other.pivotPassed
            && compensationReason == other.compensationReason && stuck == other.stuck && (data == nil) == (other.data == nil)
    }
}
