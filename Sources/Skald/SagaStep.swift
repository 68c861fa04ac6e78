import Foundation

/// One local transaction of a saga, as the engine sees it.
///
/// Built by the DSL's ``Step``; every closure is pure, so replaying a log calls
/// them again and gets the same answers.
public struct SagaStep<State: Sendable>: Sendable {
    /// The step's name, unique in its saga; `ce_sagastep` on its messages.
    public let name: String
    /// Compensatable, pivot or retriable.
    public internal(set) var kind: StepKind
    /// How long one attempt may go unanswered.
    public internal(set) var timeout: Duration = .seconds(30)
    /// Retries of the command after a timeout or a retryable failure; nil = the kind's default.
    public internal(set) var retry: RetryPolicy?
    /// The index of the node (single step or parallel group) holding this step.
    public internal(set) var node: Int = 0

    var command: CommandSpec<State>?
    var successReplies: [ReplySpec<State>] = []
    var failureReplies: [ReplySpec<State>] = []
    var compensation: CompensationSpec<State>?
    var condition: (@Sendable (State) -> Bool)?

    /// The retry policy in force: the step's own, or the kind's default
    /// (``RetryPolicy/standard`` forward, ``RetryPolicy/persistent`` for retriable steps).
    public var effectiveRetry: RetryPolicy {
        retry ?? (kind == .retriable ? .persistent : .standard)
    }

    /// Whether a predicate may skip the step.
    public var isConditional: Bool { condition != nil }

    /// Whether the step has a compensation command.
    public var hasCompensation: Bool { compensation != nil }

    /// The topic and type of the command, if any.
    public var commandTopic: String? { command?.topic }

    func successReply(_ messageType: String) -> ReplySpec<State>? {
        for reply in successReplies where reply.messageType == messageType { return reply }
        return nil
    }

    func failureReply(_ messageType: String) -> ReplySpec<State>? {
        for reply in failureReplies where reply.messageType == messageType { return reply }
        return nil
    }
}

extension SagaStep {
    /// A copy with another attempt timeout.
    public func timeout(_ duration: Duration) -> Self {
        var copy = self
        copy.timeout = duration
        return copy
    }

    /// A copy with another retry policy.
    public func retry(_ policy: RetryPolicy) -> Self {
        var copy = self
        copy.retry = policy
        return copy
    }
}

/// The command a step (or compensation) sends, built from the state.
struct CommandSpec<State: Sendable>: Sendable {
    let topic: String
    let messageType: String
    let make: @Sendable (State) -> Payload
}

/// A reply a step waits for and what it does to the state.
struct ReplySpec<State: Sendable>: Sendable {
    let messageType: String
    /// The topic it arrives on when it is a domain event rather than a saga reply.
    let topic: String?
    let retryable: Bool
    /// Whether a payload is of this reply's type (checked before the handler runs).
    let accepts: @Sendable (Payload) -> Bool
    let decode: @Sendable (any Decoder) throws -> Payload
    let apply: @Sendable (inout State, Payload) throws -> Void
    /// Reads the business key from the payload for services that know nothing of sagas.
    let correlationKey: (@Sendable (Payload) -> String?)?
}

/// The undo command of a compensatable step and the replies that confirm it.
struct CompensationSpec<State: Sendable>: Sendable {
    let command: CommandSpec<State>
    let confirmations: [String]
    let rejections: [String]
    let topic: String?
    let decoders: [String: @Sendable (any Decoder) throws -> Payload]
    let correlationKey: [String: @Sendable (Payload) -> String?]
}
