import Foundation

/// Something that happens to a saga: the engine's only way in.
public enum SagaInput: Sendable {
    /// Begin the saga with a start command or event (typed payload).
    case start(StartMessage)
    /// A reply or a domain event for this saga.
    case message(IncomingMessage)
    /// A durable timer came due.
    case timer(TimerKind)
    /// A person acting through the admin API.
    case operatorCommand(OperatorCommand)
}

/// The message that starts a saga.
public struct StartMessage: Sendable {
    /// Its `ce_type`: picks the start trigger.
    public var messageType: String
    /// Its `ce_id`, for the audit trail.
    public var messageId: String
    /// The decoded body.
    public var payload: Payload

    /// A start message with a typed body; the type name comes from the message type.
    public init<Message: SagaMessage>(_ message: Message, messageId: String) {
        self.messageType = Message.messageType
        self.messageId = messageId
        self.payload = Payload(message)
    }

    /// A start message with an already wrapped body.
    public init(messageType: String, messageId: String, payload: Payload) {
        self.messageType = messageType
        self.messageId = messageId
        self.payload = payload
    }
}

/// A reply or domain event routed to a saga instance.
public struct IncomingMessage: Sendable {
    /// Its `ce_type`.
    public var messageType: String
    /// Its `ce_id`.
    public var messageId: String
    /// `ce_sagastep`, when the sender is saga-aware.
    public var step: String?
    /// `ce_causationid`: the id of the command it answers, when the sender is saga-aware.
    /// It pins the reply to one attempt of one step (or compensation).
    public var causationId: String?
    /// The decoded body.
    public var payload: Payload

    /// A message with a typed body.
    public init<Message: SagaMessage>(
        _ message: Message, messageId: String, step: String? = nil, causationId: String? = nil
    ) {
        self.messageType = Message.messageType
        self.messageId = messageId
        self.step = step
        self.causationId = causationId
        self.payload = Payload(message)
    }

    /// A message with an already wrapped body.
    public init(messageType: String, messageId: String, step: String?, causationId: String?, payload: Payload) {
        self.messageType = messageType
        self.messageId = messageId
        self.step = step
        self.causationId = causationId
        self.payload = payload
    }
}

/// What a timer is for. Its id is derived from the saga id and these fields, so
/// scheduling the same timer twice is idempotent.
public enum TimerKind: Sendable, Hashable {
    /// Attempt `attempt` of `step` got no reply in time.
    case stepTimeout(step: String, attempt: Int)
    /// Send attempt `attempt` of `step`.
    case stepRetry(step: String, attempt: Int)
    /// Compensation attempt `attempt` of `step` got no reply in time.
    case compensationTimeout(step: String, attempt: Int)
    /// Send compensation attempt `attempt` of `step`.
    case compensationRetry(step: String, attempt: Int)
    /// The saga deadline.
    case deadline

    /// A stable name of the kind, for the `timers` table.
    public var name: String {
        switch self {
        case .stepTimeout: "step-timeout"
        case .stepRetry: "step-retry"
        case .compensationTimeout: "compensation-timeout"
        case .compensationRetry: "compensation-retry"
        case .deadline: "deadline"
        }
    }

    /// The step, if the timer is about one.
    public var step: String? {
        switch self {
        case .stepTimeout(let step, _), .stepRetry(let step, _), .compensationTimeout(let step, _),
            .compensationRetry(let step, _):
            step
        case .deadline: nil
        }
    }

    /// The attempt, if the timer is about one.
    public var attempt: Int? {
        switch self {
        case .stepTimeout(_, let attempt), .stepRetry(_, let attempt), .compensationTimeout(_, let attempt),
            .compensationRetry(_, let attempt):
            attempt
        case .deadline: nil
        }
    }

    /// Rebuilds a kind from its stored `name`, step and attempt; nil when they do not fit.
    public init?(name: String, step: String?, attempt: Int?) {
        switch (name, step, attempt) {
        case ("deadline", _, _): self = .deadline
        case ("step-timeout", let step?, let attempt?): self = .stepTimeout(step: step, attempt: attempt)
        case ("step-retry", let step?, let attempt?): self = .stepRetry(step: step, attempt: attempt)
        case ("compensation-timeout", let step?, let attempt?): self = .compensationTimeout(step: step, attempt: attempt)
        case ("compensation-retry", let step?, let attempt?): self = .compensationRetry(step: step, attempt: attempt)
        default: return nil
        }
    }

    /// `/<name>/`, between the step and the attempt in an id.
    private var middle: StaticString {
        switch self {
        case .stepTimeout: "/step-timeout/"
        case .stepRetry: "/step-retry/"
        case .compensationTimeout: "/compensation-timeout/"
        case .compensationRetry: "/compensation-retry/"
        case .deadline: "/deadline/"
        }
    }

    /// The deterministic timer id for saga `sagaId`.
    public func id(sagaId: String) -> String {
        switch self {
        case .deadline: return sagaId + "/deadline"
        case .stepTimeout(let step, let attempt), .stepRetry(let step, let attempt),
            .compensationTimeout(let step, let attempt), .compensationRetry(let step, let attempt):
            return IdBuilder.make(sagaId, step, middle, attempt)
        }
    }
}

/// An operator's instruction, audited in the log.
public struct OperatorCommand: Sendable, Hashable {
    /// What to do.
    public var action: SagaEvent.OperatorAction
    /// Who asked (the admin API's principal).
    public var actor: String
    /// Why (free text, for the audit trail).
    public var reason: String
    /// For `skip`: the step to skip; nil means the stuck or running one.
    public var step: String?

    /// An operator command.
    public init(_ action: SagaEvent.OperatorAction, actor: String, reason: String = "", step: String? = nil) {
        self.action = action
        self.actor = actor
        self.reason = reason
        self.step = step
    }
}
