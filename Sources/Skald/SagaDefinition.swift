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
    @usableFromInline var engine: EngineDefinition
    /// The business key (e.g. `\.orderId`) of an instance, for lookups and for
    /// correlating domain events that carry no saga id.
    public private(set) var businessKey: @Sendable (State) -> String = { _ in "" }

    /// The saga type name, e.g. `PlaceOrder`; `ce_sagatype` on every message.
    public var name: String { engine.name }
    /// The definition version an instance starts with and keeps.
    public var version: Int { engine.version }
    /// Every step, in declaration order (parallel branches in their group's place).
    public var steps: [SagaStep<State>] { engine.steps.map { SagaStep(core: $0.core) } }
    /// The sequence the saga walks: single steps and parallel groups.
    public var nodes: [SagaNode] { engine.nodes }
    /// How instances begin: API commands and domain events.
    public var startTriggers: [StartTrigger] { engine.startTriggers }
    /// Time from start after which a saga that has not passed its pivot is compensated.
    public var deadline: Duration? { engine.deadline }
    /// Retry policy of every compensation; exhausted means failed-needs-operator.
    public var compensationRetry: RetryPolicy { engine.compensationRetry }
    /// How long a compensation command may go unanswered before it counts as failed.
    public var compensationTimeout: Duration { engine.compensationTimeout }
    /// The topic saga-aware participants reply on.
    public var replyTopic: String { engine.replyTopic }

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
        var flat: [EngineStep] = []
        var nodes: [SagaNode] = []
        for element in elements {
            switch element {
            case .single(let step):
                nodes.append(SagaNode(name: step.name, steps: [flat.count], isParallel: false))
                flat.append(step.core)
            case .parallel(let groupName, let branches):
                let indices = Array(flat.count..<(flat.count + branches.count))
                nodes.append(SagaNode(name: groupName, steps: indices, isParallel: true))
                flat.append(contentsOf: branches.map(\.core))
            }
        }
        for nodeIndex in nodes.indices {
            for stepIndex in nodes[nodeIndex].steps { flat[stepIndex].node = nodeIndex }
        }
        engine = EngineDefinition(
            name: name, version: version, steps: flat, nodes: nodes,
            decodeState: { payload in StateBox(try payload.decode(State.self)) },
            decodeStateJSON: { decoder in Payload(try State(from: decoder)) },
            encodeState: { state in
                guard let box = state as? StateBox<State> else {
                    throw SagaError(.payloadTypeMismatch, "\(name): the saga state is not a \(State.self)")
                }
                return try JSONCoding.encode(box.value)
            })
    }

    /// Index of the step called `name`, if there is one.
    public func stepIndex(named name: String) -> Int? {
        engine.stepIndex[name]
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

/// The saga-level settings of a definition, changed by the modifiers while it is built.
struct EngineSettings: Sendable {
    var startTriggers: [StartTrigger] = []
    var deadline: Duration?
    var compensationRetry: RetryPolicy = .persistent
    var compensationTimeout: Duration = .seconds(30)
    var replyTopic = "skald.replies"
}

/// Everything the engine needs about a saga type, with the state type erased.
///
/// A class, immutable once made: the engine holds it for every input, and a
/// struct this size cost a retain and a release of each of its fields per copy.
/// A modifier makes a new one (``with(_:)``).
@usableFromInline
final class EngineDefinition: Sendable {
    let name: String
    let version: Int
    let steps: [StepRuntime]
    let nodes: [SagaNode]
    let stepIndex: [String: Int]
    let settings: EngineSettings
    /// Reads the state recorded in `saga.started`.
    let decodeState: @Sendable (Payload) throws -> AnyState
    /// Reads that state straight from stored JSON.
    let decodeStateJSON: @Sendable (any Decoder) throws -> Payload
    /// Writes the state for the snapshot row.
    let encodeState: @Sendable (AnyState) throws -> [UInt8]
    /// The decode function of each reply type the steps expect: of the first step expecting
    /// it, a success reply before a failure reply before a compensation's answer. Every
    /// message routed or decided looks its type up here once, rather than walking the steps.
    let replyDecoders: [String: @Sendable (any Decoder) throws -> Payload]

    var startTriggers: [StartTrigger] { settings.startTriggers }
    var deadline: Duration? { settings.deadline }
    var compensationRetry: RetryPolicy { settings.compensationRetry }
    var compensationTimeout: Duration { settings.compensationTimeout }
    var replyTopic: String { settings.replyTopic }

    convenience init(
        name: String, version: Int, steps: [EngineStep], nodes: [SagaNode],
        decodeState: @escaping @Sendable (Payload) throws -> AnyState,
        decodeStateJSON: @escaping @Sendable (any Decoder) throws -> Payload,
        encodeState: @escaping @Sendable (AnyState) throws -> [UInt8]
    ) {
        var index: [String: Int] = [:]
        for (position, step) in steps.enumerated() where index[step.name] == nil { index[step.name] = position }
        self.init(
            name: name, version: version, steps: steps.map(StepRuntime.init), nodes: nodes, stepIndex: index,
            settings: EngineSettings(), decodeState: decodeState, decodeStateJSON: decodeStateJSON,
            encodeState: encodeState)
    }

    private init(
        name: String, version: Int, steps: [StepRuntime], nodes: [SagaNode], stepIndex: [String: Int],
        settings: EngineSettings,
        decodeState: @escaping @Sendable (Payload) throws -> AnyState,
        decodeStateJSON: @escaping @Sendable (any Decoder) throws -> Payload,
        encodeState: @escaping @Sendable (AnyState) throws -> [UInt8]
    ) {
        self.name = name
        self.version = version
        self.steps = steps
        self.nodes = nodes
        self.stepIndex = stepIndex
        self.settings = settings
        self.decodeState = decodeState
        self.decodeStateJSON = decodeStateJSON
        self.encodeState = encodeState
        var decoders: [String: @Sendable (any Decoder) throws -> Payload] = [:]
        for step in steps {
            for reply in step.successReplies + step.failureReplies where decoders[reply.messageType] == nil {
                decoders[reply.messageType] = reply.decode
            }
            for (type, decode) in step.compensation?.decoders ?? [:] where decoders[type] == nil {
                decoders[type] = decode
            }
        }
        replyDecoders = decoders
    }

    /// A copy with changed settings (the steps are shared).
    func with(_ change: (inout EngineSettings) -> Void) -> EngineDefinition {
        var settings = self.settings
        change(&settings)
        return EngineDefinition(
            name: name, version: version, steps: steps, nodes: nodes, stepIndex: stepIndex, settings: settings,
            decodeState: decodeState, decodeStateJSON: decodeStateJSON, encodeState: encodeState)
    }

    func stepIndex(named name: String) -> Int? {
        stepIndex[name]
    }
}

// MARK: - Saga-level modifiers

extension SagaDefinition {
    /// Lets an API call (`POST /api/v1/sagas/{type}`) start the saga with a typed input.
    public func startedBy<Input: SagaMessage>(
        command input: Input.Type,
        _ makeState: @escaping @Sendable (Input) -> State
    ) -> Self {
        var copy = self
        let trigger = StartTrigger(
            source: .command, messageType: Input.messageType,
            decode: { try Payload(Input(from: $0)) },
            makeState: { payload in Payload(makeState(try payload.decode(Input.self))) },
            key: nil)
        copy.engine = copy.engine.with { $0.startTriggers.append(trigger) }
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
        let trigger = StartTrigger(
            source: .event(topic: topic), messageType: Event.messageType,
            decode: { try Payload(Event(from: $0)) },
            makeState: { payload in Payload(makeState(try payload.decode(Event.self))) },
            key: { payload in (try? payload.decode(Event.self)).map(key) })
        copy.engine = copy.engine.with { $0.startTriggers.append(trigger) }
        return copy
    }

    /// A saga not past its pivot by `duration` after it started is compensated.
    public func deadline(_ duration: Duration) -> Self {
        var copy = self
        copy.engine = copy.engine.with { $0.deadline = duration }
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
        copy.engine = copy.engine.with {
            $0.compensationRetry = retry
            $0.compensationTimeout = timeout
        }
        return copy
    }

    /// The topic saga-aware participants reply on (default `skald.replies`).
    public func replies(on topic: String) -> Self {
        var copy = self
        copy.engine = copy.engine.with { $0.replyTopic = topic }
        return copy
    }
}

/// How an instance comes into being.
public struct StartTrigger: Sendable {
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
    /// Builds the initial state (wrapped) from the start payload.
    let makeState: @Sendable (Payload) throws -> Payload
    let key: (@Sendable (Payload) -> String?)?
}
