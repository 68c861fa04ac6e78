/// A step in the DSL: a command, the replies that settle it, and its compensation.
///
/// ```swift
/// Step("reserve-inventory") {
///     Command(to: "inventory.commands") { state in ReserveInventory(orderId: state.orderId, items: state.items) }
///     OnSuccess(InventoryReserved.self) { state, reply in state.reservationId = reply.reservationId }
///     OnFailure(OutOfStock.self)
///     Compensation(to: "inventory.commands", confirmedBy: InventoryReleased.self) { state in
///         ReleaseInventory(orderId: state.orderId)
///     }
/// }
/// .timeout(.seconds(10))
/// .retry(.exponential(maxAttempts: 3, initial: .seconds(1)))
/// ```
public struct Step<State: Sendable>: Sendable {
    var definition: SagaStep<State>

    /// The step as the engine runs it.
    var core: EngineStep {
        get { definition.core }
        set { definition.core = newValue }
    }

    /// A step of the given kind (compensatable unless told otherwise).
    ///
    /// The body must contain exactly one ``Command``; the compiler rejects a step
    /// without one.
    public init(
        _ name: String,
        kind: StepKind = .compensatable,
        @StepBuilder<State> _ body: () -> StepParts<State>
    ) {
        var step = EngineStep(name: name, kind: kind)
        for part in body().parts {
            switch part {
            case .command(let command):
                step.command = command.spec
            case .success(let reply): step.successReplies.append(reply.spec)
            case .failure(let reply): step.failureReplies.append(reply.spec)
            case .compensation(let compensation): step.compensation = compensation.spec
            }
        }
        definition = SagaStep(core: step)
    }

    /// How long one attempt may go unanswered before it counts as timed out.
    public func timeout(_ duration: Duration) -> Self {
        var copy = self
        copy.core.timeout = duration
        return copy
    }

    /// How the command is retried after a timeout or a retryable failure.
    public func retry(_ policy: RetryPolicy) -> Self {
        var copy = self
        copy.core.retry = policy
        return copy
    }

    /// Runs the step only when `predicate` holds for the state when the step is reached;
    /// otherwise it is recorded as skipped.
    public func when(_ predicate: @escaping @Sendable (State) -> Bool) -> Self {
        var copy = self
        copy.core.condition = { state in (state as? StateBox<State>).map { predicate($0.value) } ?? false }
        return copy
    }
}

/// Steps that run side by side: all commands go out together, the group is done
/// when every branch succeeded, and a failing branch compensates the finished ones.
///
/// ```swift
/// Parallel("prepare") {
///     Step("reserve-inventory") { ... }
///     Step("authorize-payment") { ... }
/// }
/// ```
public struct Parallel<State: Sendable>: Sendable {
    let name: String
    let branches: [SagaStep<State>]

    /// A group called `name` (shown as the current step while it runs).
    public init(_ name: String, @ParallelBuilder<State> _ branches: () -> [Step<State>]) {
        self.name = name
        self.branches = branches().map(\.definition)
    }
}

/// The command of a step or a compensation: where it goes and how it is built from the state.
public struct Command<State: Sendable>: Sendable {
    @usableFromInline let spec: CommandSpec

    /// A command to `topic`, built from the saga state when it is sent.
    @inlinable
    public init<Message: SagaMessage>(to topic: String, _ make: @escaping @Sendable (State) -> Message) {
        spec = Erase.command(topic, make)
    }
}

/// A reply that means the step succeeded, and how it updates the state.
///
/// Without an update closure the reply leaves the state as it was, and the snapshot keeps
/// the state's encoding from the transition before.
public struct OnSuccess<State: Sendable>: Sendable {
    @usableFromInline let spec: ReplySpec

    /// A reply correlated by the `ce_sagaid` header.
    @inlinable
    public init<Reply: SagaMessage>(
        _ reply: Reply.Type,
        _ update: (@Sendable (inout State, Reply) -> Void)? = nil
    ) {
        spec = ReplySpec(
            messageType: Reply.messageType, topic: nil, retryable: false,
            accepts: { $0.holdsExactly(Reply.self) || (try? $0.decode(Reply.self)) != nil },
            decode: { try Payload(Reply(from: $0)) },
            apply: Erase.update(Reply.self, update),
            correlationKey: nil)
    }

    /// A domain event from a service that knows nothing of sagas, found by a payload
    /// field equal to the saga's business key (e.g. `correlatedBy: \.orderId`).
    @inlinable
    public init<Reply: SagaMessage>(
        _ reply: Reply.Type,
        on topic: String,
        correlatedBy key: @escaping @Sendable (Reply) -> String,
        _ update: (@Sendable (inout State, Reply) -> Void)? = nil
    ) {
        spec = ReplySpec(
            messageType: Reply.messageType, topic: topic, retryable: false,
            accepts: { $0.holdsExactly(Reply.self) || (try? $0.decode(Reply.self)) != nil },
            decode: { try Payload(Reply(from: $0)) },
            apply: Erase.update(Reply.self, update),
            correlationKey: { (try? $0.decode(Reply.self)).map(key) })
    }
}

/// A reply that means the step failed, and how it updates the state.
///
/// A failure is final (the saga compensates) unless `retryable` is true, in which
/// case the step's retry policy sends the command again. Every failure of a
/// retriable step is retried.
public struct OnFailure<State: Sendable>: Sendable {
    @usableFromInline let spec: ReplySpec

    /// A failure reply correlated by the `ce_sagaid` header.
    @inlinable
    public init<Reply: SagaMessage>(
        _ reply: Reply.Type,
        retryable: Bool = false,
        _ update: (@Sendable (inout State, Reply) -> Void)? = nil
    ) {
        spec = ReplySpec(
            messageType: Reply.messageType, topic: nil, retryable: retryable,
            accepts: { $0.holdsExactly(Reply.self) || (try? $0.decode(Reply.self)) != nil },
            decode: { try Payload(Reply(from: $0)) },
            apply: Erase.update(Reply.self, update),
            correlationKey: nil)
    }

    /// A failure event from a service that knows nothing of sagas, found by a payload field.
    @inlinable
    public init<Reply: SagaMessage>(
        _ reply: Reply.Type,
        on topic: String,
        correlatedBy key: @escaping @Sendable (Reply) -> String,
        retryable: Bool = false,
        _ update: (@Sendable (inout State, Reply) -> Void)? = nil
    ) {
        spec = ReplySpec(
            messageType: Reply.messageType, topic: topic, retryable: retryable,
            accepts: { $0.holdsExactly(Reply.self) || (try? $0.decode(Reply.self)) != nil },
            decode: { try Payload(Reply(from: $0)) },
            apply: Erase.update(Reply.self, update),
            correlationKey: { (try? $0.decode(Reply.self)).map(key) })
    }
}

/// The command that undoes a compensatable step, and the reply that confirms it.
///
/// Compensations are retried with the saga's compensation policy until confirmed
/// and must tolerate "nothing to undo": a step whose outcome is unknown (timed
/// out) is compensated too.
public struct Compensation<State: Sendable>: Sendable {
    @usableFromInline let spec: CompensationSpec

    /// A compensation whose confirmation is correlated by `ce_sagaid`.
    @inlinable
    public init<Message: SagaMessage, Confirmation: SagaMessage>(
        to topic: String,
        confirmedBy confirmation: Confirmation.Type,
        _ make: @escaping @Sendable (State) -> Message
    ) {
        spec = CompensationSpec(
            command: Erase.command(topic, make),
            confirmations: [Confirmation.messageType], rejections: [], topic: nil,
            decoders: [Confirmation.messageType: { try Payload(Confirmation(from: $0)) }],
            correlationKey: [:])
    }

    /// A compensation that may also be refused (`rejectedBy`), which counts as a
    /// failed attempt and is retried.
    @inlinable
    public init<Message: SagaMessage, Confirmation: SagaMessage, Rejection: SagaMessage>(
        to topic: String,
        confirmedBy confirmation: Confirmation.Type,
        rejectedBy rejection: Rejection.Type,
        _ make: @escaping @Sendable (State) -> Message
    ) {
        spec = CompensationSpec(
            command: Erase.command(topic, make),
            confirmations: [Confirmation.messageType], rejections: [Rejection.messageType], topic: nil,
            decoders: [
                Confirmation.messageType: { try Payload(Confirmation(from: $0)) },
                Rejection.messageType: { try Payload(Rejection(from: $0)) },
            ],
            correlationKey: [:])
    }

    /// A compensation confirmed by a domain event of a service that knows nothing of sagas.
    @inlinable
    public init<Message: SagaMessage, Confirmation: SagaMessage>(
        to topic: String,
        confirmedBy confirmation: Confirmation.Type,
        on eventTopic: String,
        correlatedBy key: @escaping @Sendable (Confirmation) -> String,
        _ make: @escaping @Sendable (State) -> Message
    ) {
        spec = CompensationSpec(
            command: Erase.command(topic, make),
            confirmations: [Confirmation.messageType], rejections: [], topic: eventTopic,
            decoders: [Confirmation.messageType: { try Payload(Confirmation(from: $0)) }],
            correlationKey: [Confirmation.messageType: { (try? $0.decode(Confirmation.self)).map(key) }])
    }
}
