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

    /// The forward phase.
    public var phase: Phase = .pending
    /// The latest attempt sent (0 = never sent).
    public var attempt = 0
    /// Attempts before this number do not count against the retry budget (an operator retry resets it).
    public var budgetStart = 0
    /// Some attempt timed out, so the step may have taken effect even if it later failed.
    public var outcomeUnknown = false
    /// The compensation phase.
    public var compensation: CompensationPhase = .none
    /// The latest compensation attempt sent.
    public var compensationAttempt = 0
    /// Compensation attempts before this number do not count against the budget.
    public var compensationBudgetStart = 0

    /// Whether the step is done for the purpose of moving on.
    public var isSettledForward: Bool {
        phase == .succeeded || phase == .skipped || phase == .skippedByOperator
    }
}

/// The live state of one saga instance: the user's state plus the engine's bookkeeping.
///
/// It is exactly the fold of the instance's events (``SagaDefinition/evolve(_:_:)``),
/// so the `sagas` snapshot row can always be rebuilt from `saga_events`.
public struct SagaInstance<State: Codable & Sendable & Equatable>: Sendable, Equatable {
    /// The saga id: key of every command and reply.
    public let sagaId: String
    /// Overall status.
    public internal(set) var status: SagaStatus = .notStarted
    /// The user's state (nil before the start event).
    public internal(set) var data: State?
    /// Sequence number of the last event applied (0 = none).
    public internal(set) var lastSequence = 0
    /// When the saga started.
    public internal(set) var startedAt: Date?
    /// Time of the last event.
    public internal(set) var updatedAt: Date?
    /// When the saga deadline falls, if it has one.
    public internal(set) var deadline: Date?
    /// Whether the deadline passed (after the pivot it is only recorded).
    public internal(set) var deadlineExceeded = false
    /// The node (single step or parallel group) the saga is at.
    public internal(set) var currentNode = 0
    /// Per-step progress, indexed like the definition's steps.
    public internal(set) var steps: [StepProgress] = []
    /// Steps that succeeded or may have taken effect, in the order that became known:
    /// compensation walks this backwards.
    public internal(set) var completionOrder: [Int] = []
    /// Whether the pivot succeeded: from then on nothing is compensated.
    public internal(set) var pivotPassed = false
    /// Why compensation began.
    public internal(set) var compensationReason: SagaEvent.CompensationReason?
    /// What is stuck when the status is failed-needs-operator.
    public internal(set) var stuck: Stuck?

    /// What an operator must look at.
    public struct Stuck: Sendable, Hashable {
        /// The step index.
        public var step: Int
        /// Whether its compensation (rather than its command) is stuck.
        public var compensating: Bool
        /// Why.
        public var reason: String
    }

    /// An empty instance, before its start event.
    public init(sagaId: String) {
        self.sagaId = sagaId
    }
}
