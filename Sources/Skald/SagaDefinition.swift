import Foundation

/// A saga type: its steps, how it starts, how replies find it, and its rules.
///
/// Build one with the DSL and register it; the definition is immutable data
/// plus pure closures, so one value serves every instance on every thread.
///
/// ```swift
/// let placeOrder = SagaDefinition("PlaceOrder", version: 1, state: PlaceOrderState.self) {
///     Step("create-order") {
///         Command(to: "orders.commands") { state in CreateOrder(orderId: state.orderId) }
///         OnSuccess(OrderCreated.self)
///         OnFailure(OrderRejected.self) { state, reply in state.failure = reply.reason }
///         Compensation(to: "orders.commands", confirmedBy: OrderCancelled.self) { state in
///             CancelOrder(orderId: state.orderId)
///         }
///     }
/// }
/// .startedBy(command: PlaceOrderRequest.self) { request in PlaceOrderState(request) }
/// ```
public struct SagaDefinition<State: Codable & Sendable & Equatable>: Sendable {
    /// The saga type name, e.g. `PlaceOrder`; `ce_sagatype` on every message.
    public let name: String
    /// The definition version an instance starts with and keeps.
    public let version: Int
    /// Every step, in declaration order (parallel branches in their group's place).
    public let steps: [SagaStep<State>]
    /// The sequence the saga walks: single steps and parallel groups.
    public let nodes: [SagaNode]
    /// How instances begin: API commands and domain events.
    public private(set) var startTriggers: [StartTrigger<State>] = []
    /// Time from start after which a saga that has not passed its pivot is compensated.
    public private(set) var deadline: Duration?
    /// Retry policy of every compensation; exhausted means failed-needs-operator.
    public private(set) var compensationRetry: RetryPolicy = .persistent
    /// How long a compensation command may go unanswered before it counts as failed.
    public private(set) var compensationTimeout: Duration = .seconds(30)
    /// The topic participants reply on when they correlate by `ce_sagaid`.
    public private(set) var replyTopic: String = "skald.replies"
    /// The business key of an instance (e.g. the order id), for lookups and
    /// for correlating domain events that carry no saga id.
    public private(set) var businessKey: @Sendable (State) -> String = { _ in "" }

    let stepIndex: [String: Int]

    /// Defines a saga from its steps.
    ///
    /// - Parameters:
    ///   - name: the saga type, stable for the life of its logs.
    ///   - version: bump it when the steps change; running instances keep theirs.
    ///   - state: the Codable state the saga carries from step to step.
    ///   - steps: `Step` and `Parallel` elements, in order.
    public init(
        _ name: String,
        version: Int = 1,
        state: State.Type = State.self,
        @SagaBuilder<State> steps: () -> SagaSteps<State>
    ) {
        self.init(name, version: version, state: state, elements: steps().elements)
    }

    /// Defines a saga from elements assembled in code (generated or table-driven sagas).
    public init(_ name: String, version: Int = 1, state: State.Type = State.self, elements: [SagaElement<State>]) {
        self.name = name
        self.version = version
        var flat: [SagaStep<State>] = []
        var nodes: [SagaNode] = []
        for element in elements {
            switch element {
            case .single(let step):
                nodes.append(SagaNode(name: step.name, steps: [flat.count], isParallel: false))
                flat.append(step)
            case .parallel(let groupName, let branches):
                let indices = Array(flat.count..<(flat.count + branches.count))
                nodes.append(SagaNode(name: groupName, steps: indices, isParallel: true))
                flat.append(contentsOf: branches)
            }
        }
        for nodeIndex in nodes.indices {
            for stepIndex in nodes[nodeIndex].steps { flat[stepIndex].node = nodeIndex }
        }
        self.steps = flat
        self.nodes = nodes
        var index: [String: Int] = [:]
        for (position, step) in flat.enumerated() where index[step.name] == nil { index[step.name] = position }
        self.stepIndex = index
    }

    /// Index of the step called `name`, if there is one.
    public func stepIndex(named name: String) -> Int? {
        stepIndex[name]
    }
}

/// One stop on the saga's path: a single step, or a parallel group of branches.
public struct SagaNode: Sendable, Hashable {
    /// The step's name, or the group's name.
    public let name: String
    /// Indices into ``SagaDefinition/steps``.
    public let steps: [Int]
    /// Whether the steps run side by side (fan-out, fan-in).
    public let isParallel: Bool
}

// MARK: - Saga-level modifiers

extension SagaDefinition {
    /// Lets an API call (`POST /api/v1/sagas/{type}`) start the saga with a typed input.
    public func startedBy<Input: SagaMessage>(
        command input: Input.Type,
        _ makeState: @escaping @Sendable (Input) -> State
    ) -> Self {
        var copy = self
        copy.startTriggers.append(
            StartTrigger(
                source: .command, messageType: Input.messageType,
                decode: { try Payload(Input(from: $0)) },
                makeState: { payload in makeState(try payload.decode(Input.self)) },
                key: nil))
        return copy
    }

    /// Starts the saga when a domain event arrives, e.g. `OrderCreated` on `orders.events`.
    ///
    /// `key` reads the business key from the event: the runtime derives the saga
    /// id from it so the same event delivered twice starts one saga, not two.
    public func startedBy<Event: SagaMessage>(
        event: Event.Type,
        on topic: String,
        key: @escaping @Sendable (Event) -> String,
        _ makeState: @escaping @Sendable (Event) -> State
    ) -> Self {
        var copy = self
        copy.startTriggers.append(
            StartTrigger(
                source: .event(topic: topic), messageType: Event.messageType,
                decode: { try Payload(Event(from: $0)) },
                makeState: { payload in makeState(try payload.decode(Event.self)) },
                key: { payload in (try? payload.decode(Event.self)).map(key) }))
        return copy
    }

    /// A saga not past its pivot by `duration` after it started is compensated.
    public func deadline(_ duration: Duration) -> Self {
        var copy = self
        copy.deadline = duration
        return copy
    }

    /// The business key (e.g. `\.orderId`) shown in the admin API and used to
    /// correlate domain events that carry no saga id.
    public func businessKey(_ key: @escaping @Sendable (State) -> String) -> Self {
        var copy = self
        copy.businessKey = key
        return copy
    }

    /// How compensations are retried and how long each may take.
    public func compensations(retry: RetryPolicy, timeout: Duration = .seconds(30)) -> Self {
        var copy = self
        copy.compensationRetry = retry
        copy.compensationTimeout = timeout
        return copy
    }

    /// The topic saga-aware participants reply on (default `skald.replies`).
    public func replies(on topic: String) -> Self {
        var copy = self
        copy.replyTopic = topic
        return copy
    }
}

/// How an instance comes into being.
public struct StartTrigger<State: Sendable>: Sendable {
    /// Where the starting message comes from.
    public enum Source: Sendable, Hashable {
        /// An API call or a command addressed to the orchestrator.
        case command
        /// A domain event published on `topic`.
        case event(topic: String)
    }

    /// Where the starting message comes from.
    public let source: Source
    /// The `ce_type` of the starting message.
    public let messageType: String
    let decode: @Sendable (any Decoder) throws -> Payload
    let makeState: @Sendable (Payload) throws -> State
    let key: (@Sendable (Payload) -> String?)?
}
