public import Skald

/// One input for one saga, as the message pump, the timer service, the start API or
/// an operator hands it to the ``SagaProcessor``.
public struct SagaWork: Sendable {
    /// How the saga is found.
    public enum Target: Sendable {
        /// By its id (`ce_sagaid`, a timer, an operator).
        case saga(id: String)
        /// By a business key carried in the payload of a saga-unaware service's message.
        case correlated(sagaType: String, key: String)
        /// A new instance of `sagaType` with this id (or the existing one, for a repeated start).
        case start(sagaType: String, sagaId: String, businessKey: String?)
    }

    /// How the saga is found.
    public var target: Target
    /// What happens to it.
    public var input: RuntimeInput
    /// The message id the inbox dedupes on; nil for timers and operator commands.
    public var inboxId: String?
    /// Where the input came from (`topic/partition/offset`, `timer`, `api`), for the inbox.
    public var source: String
    /// W3C trace context to carry onto the commands it causes.
    public var traceparent: String?

    /// Creates a work item.
    public init(target: Target, input: RuntimeInput, inboxId: String?, source: String, traceparent: String? = nil) {
        self.target = target
        self.input = input
        self.inboxId = inboxId
        self.source = source
        self.traceparent = traceparent
    }
}

/// What became of one work item.
public enum SagaWorkOutcome: Sendable, Equatable {
    /// The saga decided on it; its events are stored.
    case applied(sagaId: String)
    /// The inbox had seen the message, or the saga had already started: nothing changed.
    case duplicate(sagaId: String?)
    /// No saga to give it to (unknown id or key, or the saga's type is not registered).
    case unroutable(reason: String)
    /// The saga refused it (the definition threw): recorded nowhere, reported to the caller.
    case rejected(reason: String)
}

/// What one transaction of the ``SagaProcessor`` did.
public struct SagaBatchResult: Sendable {
    /// The work it applied (as given, or as collected inside the transaction).
    public var work: [SagaWork]
    /// One outcome per work item, in order.
    public var outcomes: [SagaWorkOutcome]
    /// Whether any command went to the outbox (the relay should look).
    public var wroteCommands: Bool
}
