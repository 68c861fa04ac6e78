import Foundation

/// The state of a saga instance with its type erased, as the engine core holds it.
///
/// The engine is not generic over the user's state: generic code called across
/// a module boundary runs unspecialized (every copy goes through value witnesses,
/// every field access through metadata lookups), which is far too slow for a
/// million transitions a second. The typed closures of the DSL are wrapped once,
/// when the definition is built, into closures over this type.
typealias AnyState = AnyStateBox

/// The base of every ``StateBox``: holding the state as a class reference (not an
/// `any Sendable` existential) makes reading it back a class cast, which is a
/// pointer comparison, instead of a general dynamic cast on every reply and command.
///
/// `@unchecked Sendable`: it has no stored properties.
@usableFromInline
class AnyStateBox: @unchecked Sendable {
    @usableFromInline init() {}

    /// Holds the place of the state while its box is checked for unique ownership.
    @usableFromInline static let placeholder = AnyStateBox()
}

/// The user state in a reference the engine mutates in place when it is the only
/// owner, and copies first when it is not (copy-on-write by hand): an update by a
/// reply handler then costs no allocation on the runtime's in-place path.
///
/// `@unchecked Sendable` is sound because `value` is only written after
/// `isKnownUniquelyReferenced` proved no other instance (on any thread) sees it.
@usableFromInline
final class StateBox<State: Sendable>: AnyStateBox, @unchecked Sendable {
    @usableFromInline var value: State

    @usableFromInline
    init(_ value: State) {
        self.value = value
    }
}

/// One local transaction of a saga, as the engine sees it.
///
/// Built by the DSL's ``Step``; every closure is pure, so replaying a log calls
/// them again and gets the same answers.
public struct SagaStep<State: Sendable>: Sendable {
    var core: EngineStep

    init(core: EngineStep) {
        self.core = core
    }

    /// The step's name, unique in its saga; `ce_sagastep` on its messages.
    public var name: String { core.name }
    /// Compensatable, pivot or retriable.
    public var kind: StepKind { core.kind }
    /// How long one attempt may go unanswered.
    public var timeout: Duration { core.timeout }
    /// Retries of the command after a timeout or a retryable failure; nil = the kind's default.
    public var retry: RetryPolicy? { core.retry }
    /// The index of the node (single step or parallel group) holding this step.
    public var node: Int { core.node }
    /// The retry policy in force: the step's own, or the kind's default
    /// (``RetryPolicy/standard`` forward, ``RetryPolicy/persistent`` for retriable steps).
    public var effectiveRetry: RetryPolicy { core.effectiveRetry }
    /// Whether a predicate may skip the step.
    public var isConditional: Bool { core.condition != nil }
    /// Whether the step has a compensation command.
    public var hasCompensation: Bool { core.compensation != nil }
    /// The topic of the command.
    public var commandTopic: String? { core.command?.topic }

    /// A copy with another attempt timeout.
    public func timeout(_ duration: Duration) -> Self {
        var copy = self
        copy.core.timeout = duration
        return copy
    }

    /// A copy with another retry policy.
    public func retry(_ policy: RetryPolicy) -> Self {
        var copy = self
        copy.core.retry = policy
        return copy
    }
}

/// A step with its closures erased to ``AnyState``: what the engine core runs.
struct EngineStep: Sendable {
    let name: String
    var kind: StepKind
    var timeout: Duration = .seconds(30)
    var retry: RetryPolicy?
    var node: Int = 0
    var command: CommandSpec?
    var successReplies: [ReplySpec] = []
    var failureReplies: [ReplySpec] = []
    var compensation: CompensationSpec?
    var condition: (@Sendable (AnyState) -> Bool)?

    var effectiveRetry: RetryPolicy {
        retry ?? (kind == .retriable ? .persistent : .standard)
    }

    func successReply(_ messageType: String) -> ReplySpec? {
        for reply in successReplies where reply.messageType == messageType { return reply }
        return nil
    }

    func failureReply(_ messageType: String) -> ReplySpec? {
        for reply in failureReplies where reply.messageType == messageType { return reply }
        return nil
    }
}

/// The command a step (or compensation) sends, built from the state.
@usableFromInline
struct CommandSpec: Sendable {
    let topic: String
    let messageType: String
    /// Nil only if handed a state of the wrong type.
    let make: @Sendable (AnyStateBox) -> Payload?

    @usableFromInline
    init(topic: String, messageType: String, make: @escaping @Sendable (AnyStateBox) -> Payload?) {
        self.topic = topic
        self.messageType = messageType
        self.make = make
    }
}

/// A step as the engine reads it on the hot path: a reference, so that looking
/// a step up costs one retain instead of copying every closure and string in it.
final class StepRuntime: Sendable {
    let core: EngineStep
    /// The name's UTF-8, compared against command ids without building strings.
    let nameBytes: [UInt8]
    /// The attempt timeout in microseconds, computed once.
    let timeoutMicroseconds: Double

    init(_ core: EngineStep) {
        self.core = core
        self.nameBytes = Array(core.name.utf8)
        self.timeoutMicroseconds = core.timeout.engineMicroseconds
    }

    var name: String { core.name }
    var kind: StepKind { core.kind }
    var timeout: Duration { core.timeout }
    var retry: RetryPolicy? { core.retry }
    var node: Int { core.node }
    var command: CommandSpec? { core.command }
    var successReplies: [ReplySpec] { core.successReplies }
    var failureReplies: [ReplySpec] { core.failureReplies }
    var compensation: CompensationSpec? { core.compensation }
    var condition: (@Sendable (AnyState) -> Bool)? { core.condition }
    var effectiveRetry: RetryPolicy { core.effectiveRetry }

    func successReply(_ messageType: String) -> ReplySpec? {
        core.successReply(messageType)
    }

    func failureReply(_ messageType: String) -> ReplySpec? {
        core.failureReply(messageType)
    }
}

/// A reply a step waits for and what it does to the state (a reference: it is
/// looked up for every reply).
@usableFromInline
final class ReplySpec: Sendable {
    let messageType: String
    /// The topic it arrives on when it is a domain event rather than a saga reply.
    let topic: String?
    let retryable: Bool
    /// Whether a payload is of this reply's type (checked before the handler runs).
    let accepts: @Sendable (Payload) -> Bool
    let decode: @Sendable (any Decoder) throws -> Payload
    /// Updates the state from the reply; nil when the step declared no update, so the state,
    /// and the encoding of it the snapshot keeps, stay as they were.
    let apply: (@Sendable (inout AnyState, Payload) throws -> Void)?
    /// Reads the business key from the payload for services that know nothing of sagas.
    let correlationKey: (@Sendable (Payload) -> String?)?

    @usableFromInline
    init(
        messageType: String, topic: String?, retryable: Bool, accepts: @escaping @Sendable (Payload) -> Bool,
        decode: @escaping @Sendable (any Decoder) throws -> Payload,
        apply: (@Sendable (inout AnyStateBox, Payload) throws -> Void)?,
        correlationKey: (@Sendable (Payload) -> String?)?
    ) {
        self.messageType = messageType
        self.topic = topic
        self.retryable = retryable
        self.accepts = accepts
        self.decode = decode
        self.apply = apply
        self.correlationKey = correlationKey
    }
}

/// The undo command of a compensatable step and the replies that confirm it.
@usableFromInline
struct CompensationSpec: Sendable {
    let command: CommandSpec
    let confirmations: [String]
    let rejections: [String]
    let topic: String?
    let decoders: [String: @Sendable (any Decoder) throws -> Payload]
    let correlationKey: [String: @Sendable (Payload) -> String?]

    @usableFromInline
    init(
        command: CommandSpec, confirmations: [String], rejections: [String], topic: String?,
        decoders: [String: @Sendable (any Decoder) throws -> Payload],
        correlationKey: [String: @Sendable (Payload) -> String?]
    ) {
        self.command = command
        self.confirmations = confirmations
        self.rejections = rejections
        self.topic = topic
        self.decoders = decoders
        self.correlationKey = correlationKey
    }
}

/// Wraps typed DSL closures into erased ones, once, when a definition is built.
///
/// Inlinable, with the DSL initializers that call it, so the closures are
/// specialized for the user's concrete types in the user's module.
@usableFromInline
enum Erase {
    @inlinable
    static func command<State: Sendable, Message: SagaMessage>(
        _ topic: String, _ make: @escaping @Sendable (State) -> Message
    ) -> CommandSpec {
        CommandSpec(
            topic: topic, messageType: Message.messageType,
            make: { state in (state as? StateBox<State>).map { Payload(make($0.value)) } })
    }

    @inlinable
    static func update<State: Sendable, Reply: Decodable & Sendable>(
        _ reply: Reply.Type, _ update: (@Sendable (inout State, Reply) -> Void)?
    ) -> (@Sendable (inout AnyStateBox, Payload) throws -> Void)? {
        guard let update else { return nil }
        return { state, payload in
            guard var box = state as? StateBox<State> else { throw SagaError.stateTypeMismatch(State.self) }
            let reply = try payload.decode(Reply.self)
            state = AnyStateBox.placeholder
            if !isKnownUniquelyReferenced(&box) { box = StateBox(box.value) }
            update(&box.value, reply)
            state = box
        }
    }
}
