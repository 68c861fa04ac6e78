public import Foundation

/// The type-erased face of a saga definition that the orchestrator drives.
///
/// The runtime knows nothing of a saga's Swift types: it moves JSON bytes
/// between Kafka, Postgres and this protocol. ``SagaDefinition`` conforms; a
/// ``SagaRegistry`` holds many of them, of many state types.
///
/// The flow for one consumed message: ``route(topic:envelope:payload:)`` says
/// whether it starts an instance, belongs to one by saga id, or must be found by
/// business key; the runtime loads that instance's events (``load(sagaId:events:)``,
/// or reuses a cached ``AnySagaInstance``), calls ``decide(_:_:now:)``, and in one
/// transaction appends ``RuntimeDecision/events``, writes
/// ``RuntimeDecision/snapshot``, writes ``RuntimeDecision/commands`` to the outbox
/// and ``RuntimeDecision/timers`` to the saga's armed timers.
public protocol RuntimeSagaDefinition: Sendable {
    /// The saga type (`ce_sagatype`).
    var name: String { get }
    /// The definition version.
    var version: Int { get }
    /// Every rule the definition breaks (checked by the registry).
    func validationErrors() -> [SagaDefinitionError]
    /// The topics and message types the runtime must consume for this saga type.
    var subscriptions: [SagaSubscription] { get }
    /// What a consumed message means for this saga type; nil when it is not for it.
    func route(topic: String, envelope: MessageEnvelope, payload: [UInt8]) throws -> SagaRoute?
    /// An instance with no events yet, to pass a start input to.
    func newInstance(sagaId: String) -> AnySagaInstance
    /// Folds stored events (`saga_events` rows, in sequence order) into an instance.
    func load(sagaId: String, events: [StoredSagaEvent]) throws -> AnySagaInstance
    /// Runs the state machine on one input.
    func decide(_ instance: AnySagaInstance, _ input: RuntimeInput, now: Date) throws -> RuntimeDecision
    /// The snapshot row of an instance.
    func snapshot(of instance: AnySagaInstance) throws -> SagaSnapshot
    /// The topic a step's command goes to, for per-participant circuit breakers.
    func commandTopic(ofStep step: String) -> String?
    /// Re-runs stored events through this definition and reports the first divergence.
    func replayCheck(sagaId: String, events: [StoredSagaEvent]) throws -> ReplayReport
    /// Reads stored events with this definition's payload types (for projections).
    func decodeStored(_ events: [StoredSagaEvent]) throws -> [SagaEvent]
}

/// One `(topic, message type)` a saga type listens to.
public struct SagaSubscription: Sendable, Hashable {
    /// Why the saga listens.
    public enum Role: String, Sendable, Hashable {
        /// The message starts an instance.
        case start
        /// A reply to a command, correlated by `ce_sagaid`.
        case reply
        /// A domain event correlated by a payload field equal to the business key.
        case correlatedEvent = "correlated-event"
    }

    /// The Kafka topic.
    public var topic: String
    /// The `ce_type`.
    public var messageType: String
    /// Why.
    public var role: Role

    /// A subscription.
    public init(topic: String, messageType: String, role: Role) {
        self.topic = topic
        self.messageType = messageType
        self.role = role
    }
}

/// What a consumed message means for one saga type.
public enum SagaRoute: Sendable, Hashable {
    /// Start a new instance with this id (derived from the business key for
    /// event-started sagas, so a redelivered event finds the instance it started).
    case start(sagaId: String, businessKey: String?)
    /// Deliver to the instance with this saga id.
    case deliver(sagaId: String)
    /// Deliver to the instance of this type whose business key is this.
    case correlate(businessKey: String)
}

/// A `saga_events` row: the stable JSON of one event plus the columns indexed beside it.
public struct StoredSagaEvent: Sendable, Hashable {
    /// Position in the saga's log, from 1.
    public var sequence: Int
    /// The event type discriminator, e.g. `step.succeeded`.
    public var type: String
    /// When it was decided.
    public var time: Date
    /// The event as JSON (UTF-8), including `schema`, `type`, `sequence` and `time`.
    public var data: [UInt8]

    /// A row.
    public init(sequence: Int, type: String, time: Date, data: [UInt8]) {
        self.sequence = sequence
        self.type = type
        self.time = time
        self.data = data
    }

    /// The row for an event.
    public init(_ event: SagaEvent) throws {
        do {
            self.init(sequence: event.sequence, type: event.kind.typeName, time: event.time, data: try event.jsonBytes())
        } catch {
            throw SagaError(.unencodable, "event \(event.sequence) (\(event.kind.typeName)) cannot be written: \(error)")
        }
    }
}

/// An input as the runtime has it: headers and JSON bytes, a timer, or an operator.
public enum RuntimeInput: Sendable {
    /// Start an instance from a message (an API call is passed as one too).
    case start(envelope: MessageEnvelope, payload: [UInt8])
    /// A reply or domain event routed to the instance.
    case message(envelope: MessageEnvelope, payload: [UInt8])
    /// A durable timer fired.
    case timer(TimerKind)
    /// An operator command from the admin API.
    case operatorCommand(OperatorCommand)
}

/// A saga instance of any state type, as the runtime caches it between messages.
///
/// Immutable, and held by one reference: the runtime copies an instance several times per
/// transition (into the batch's table, the decision, the cache entry), and as a plain
/// struct each copy retained half a dozen references (the id, the state, the encoded
/// state, the step arrays) and released them again (docs/benchmarks-orchestrator.md,
/// session 22).
public struct AnySagaInstance: Sendable {
    private final class Storage: Sendable {
        let sagaType: String
        let version: Int
        let base: InstanceCore

        init(sagaType: String, version: Int, base: InstanceCore) {
            self.sagaType = sagaType
            self.version = version
            self.base = base
        }
    }

    private let storage: Storage

    /// The saga id.
    public var sagaId: String { storage.base.sagaId }
    /// The definition name.
    public var sagaType: String { storage.sagaType }
    /// The definition version.
    public var version: Int { storage.version }
    /// The last event sequence applied.
    public var lastSequence: Int { storage.base.lastSequence }
    var base: InstanceCore { storage.base }

    init(_ instance: InstanceCore, sagaType: String, version: Int) {
        storage = Storage(sagaType: sagaType, version: version, base: instance)
    }
}

/// What the runtime must persist and publish for one input.
public struct RuntimeDecision: Sendable {
    /// Rows to append to `saga_events`.
    public var events: [StoredSagaEvent]
    /// Rows for the outbox.
    public var commands: [RuntimeCommand]
    /// Timers to arm (a timer of a kind armed already replaces it).
    public var timers: [TimerRequest]
    /// Timers to disarm (if still armed): their purpose is gone.
    public var cancelledTimers: [TimerKind]
    /// The `sagas` row after the events.
    public var snapshot: SagaSnapshot
    /// The instance after the events, for the runtime's cache.
    public var instance: AnySagaInstance
    /// What the events mean for the orchestrator's metrics, in event order.
    public var milestones: [SagaMilestone] = []
}

/// A point in a saga's life that the orchestrator counts or times, read off a decision's events.
public enum SagaMilestone: Sendable, Equatable {
    /// The saga started.
    case started
    /// The saga completed.
    case completed
    /// The saga finished compensating.
    case compensated
    /// The saga stopped and waits for an operator.
    case failedNeedsOperator
    /// A step's reply (success or failure) arrived `seconds` after its command was sent,
    /// both on the engine's clock (the `now` of the two decisions).
    case stepAnswered(step: String, seconds: Double)
}

/// A command ready for the outbox: topic, key, headers and JSON bytes.
public struct RuntimeCommand: Sendable {
    /// Deterministic id (also `ce_id`); the outbox's primary key.
    public var id: String
    /// The topic.
    public var topic: String
    /// The Kafka key: the saga id.
    public var key: String
    /// The CloudEvents attributes; ``MessageEnvelope/headers()`` gives the Kafka headers.
    public var envelope: MessageEnvelope
    /// The JSON payload.
    public var payload: [UInt8]
    /// Action or compensation, for metrics.
    public var purpose: OutgoingCommand.Purpose
}

/// The `sagas` snapshot row: what list and detail views show without folding.
public struct SagaSnapshot: Sendable, Hashable {
    /// The saga id.
    public var sagaId: String
    /// The saga type.
    public var sagaType: String
    /// The definition version the instance runs.
    public var version: Int
    /// The status (`running`, `compensating`, `completed`, `compensated`, `failed_needs_operator`).
    public var status: SagaStatus
    /// The step (or group) it is at or stuck on; nil when finished.
    public var currentStep: String?
    /// The business key, e.g. the order id.
    public var businessKey: String
    /// Sequence of the last event.
    public var lastSequence: Int
    /// When it started.
    public var startedAt: Date?
    /// Time of the last event.
    public var updatedAt: Date?
    /// Why it needs an operator, when it does.
    public var stuckReason: String?
    /// The user state as JSON.
    public var state: [UInt8]
    /// Each step's progress, in definition order.
    public var steps: [StepSnapshot]
}

/// One step in a snapshot: enough for "completed and remaining steps".
public struct StepSnapshot: Sendable, Hashable {
    /// The step name.
    public var name: String
    /// Its kind.
    public var kind: StepKind
    /// Forward phase.
    public var phase: StepProgress.Phase
    /// Compensation phase.
    public var compensation: StepProgress.CompensationPhase
    /// Latest attempt sent.
    public var attempt: Int
}
