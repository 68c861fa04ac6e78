public import Foundation
public import Skald

/// A saga instance of any state type, as the runtime holds it between inputs.
public struct RuntimeInstance: Sendable {
    /// The saga id.
    public let sagaId: String
    /// The saga type.
    public let sagaType: String
    /// The definition version the instance runs with.
    public let version: Int
    /// The sequence of its last event (0 before the start).
    public let lastSequence: Int
    /// Whether nothing more will ever happen to it.
    public let isFinal: Bool
    /// The typed `SagaInstance<State>`.
    let storage: any Sendable
}

/// A saga event ready for `saga_events`.
public struct StoredEvent: Sendable {
    /// Its position in the saga's log.
    public var sequence: Int
    /// The stable type discriminator.
    public var type: String
    /// The JSON body.
    public var json: [UInt8]
}

/// The `sagas` row of an instance: what folding its events gives, for fast reads.
public struct SagaSnapshot: Sendable {
    /// `running`, `compensating`, `completed`, …
    public var status: SagaStatus
    /// The step or parallel group the saga is at, if any.
    public var currentStep: String?
    /// The business key, e.g. the order id.
    public var businessKey: String?
    /// The user's state as JSON.
    public var stateJSON: [UInt8]
    /// When the saga started.
    public var startedAt: Date
    /// When it last changed.
    public var updatedAt: Date
    /// The saga deadline, if any.
    public var deadline: Date?
}

/// What one input did to an instance, ready to be written.
public struct RuntimeDecision: Sendable {
    /// New events.
    public var events: [StoredEvent]
    /// Commands for the outbox.
    public var commands: [OutgoingCommand]
    /// Timers to arm.
    public var timers: [TimerRequest]
    /// Timers no longer needed.
    public var cancelledTimers: [String]
    /// The instance afterwards.
    public var instance: RuntimeInstance
    /// Its snapshot row afterwards.
    public var snapshot: SagaSnapshot
}

/// What the runtime needs of a saga type, whatever its state type: the bridge
/// from raw messages and stored rows to the pure, typed ``SagaDefinition``.
public protocol RegisteredSaga: Sendable {
    /// The saga type name.
    var name: String { get }
    /// The definition version.
    var version: Int { get }
    /// The topics its inputs arrive on.
    var inputTopics: Set<String> { get }
    /// Decodes a payload by its `ce_type`.
    func decodePayload(messageType: String, json: [UInt8]) throws -> Payload
    /// The business key of a message from a saga-unaware service, if this saga correlates it.
    func correlationKey(messageType: String, payload: Payload) -> String?
    /// Whether a message of `messageType` on `topic` starts this saga; the business key it carries.
    func startKey(messageType: String, topic: String?, payload: Payload) -> StartMatch?
    /// An instance before its start.
    func newInstance(sagaId: String) -> RuntimeInstance
    /// Rebuilds an instance by folding its stored events.
    func restore(sagaId: String, events: [[UInt8]]) throws -> RuntimeInstance
    /// Runs the pure state machine for one input.
    func decide(_ instance: RuntimeInstance, _ input: SagaInput, now: Date) throws -> RuntimeDecision
}

/// A message that starts a saga, and the business key that makes the start idempotent.
public struct StartMatch: Sendable {
    /// The key from the message (domain-event triggers), or nil for API starts.
    public var businessKey: String?
}

/// Errors of the runtime's saga bridge.
public struct SagaRuntimeError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public var message: String

    /// Creates an error.
    public init(_ message: String) {
        self.message = message
    }

    /// The message.
    public var description: String { message }
}

/// A ``SagaDefinition`` registered with the runtime.
struct SagaAdapter<State: Codable & Sendable & Equatable>: RegisteredSaga {
    let definition: SagaDefinition<State>

    var name: String { definition.name }
    var version: Int { definition.version }
    var inputTopics: Set<String> { definition.inputTopics }

    func decodePayload(messageType: String, json: [UInt8]) throws -> Payload {
        try definition.decodePayload(messageType: messageType, json: json)
    }

    func correlationKey(messageType: String, payload: Payload) -> String? {
        definition.correlationKey(messageType: messageType, payload: payload)
    }

    func startKey(messageType: String, topic: String?, payload: Payload) -> StartMatch? {
        guard let trigger = definition.startTrigger(messageType: messageType, topic: topic) else { return nil }
        return StartMatch(businessKey: trigger.businessKey(of: payload))
    }

    func newInstance(sagaId: String) -> RuntimeInstance {
        wrap(SagaInstance<State>(sagaId: sagaId))
    }

    func restore(sagaId: String, events: [[UInt8]]) throws -> RuntimeInstance {
        let decoded = try definition.decodeEvents(events)
        return wrap(try definition.fold(sagaId: sagaId, events: decoded))
    }

    func decide(_ instance: RuntimeInstance, _ input: SagaInput, now: Date) throws -> RuntimeDecision {
        guard let typed = instance.storage as? SagaInstance<State> else {
            throw SagaRuntimeError(
                "saga \(instance.sagaId) is a \(instance.sagaType) v\(instance.version), not a \(name) v\(version)"
            )
        }
        let decision = try definition.decide(typed, input, now: now)
        let after = decision.instance
        let events = try decision.events.map { event in
            StoredEvent(sequence: event.sequence, type: event.kind.typeName, json: try event.jsonBytes())
        }
        let stateJSON: [UInt8] = try after.data.map { Array(try JSONEncoder().encode($0)) } ?? Array("null".utf8)
        let currentStep: String? =
            after.status.isFinal || after.currentNode >= definition.nodes.count
            ? nil : definition.nodes[after.currentNode].name
        let snapshot = SagaSnapshot(
            status: after.status,
            currentStep: currentStep,
            businessKey: after.data.map(definition.businessKey).flatMap { $0.isEmpty ? nil : $0 },
            stateJSON: stateJSON,
            startedAt: after.startedAt ?? now,
            updatedAt: after.updatedAt ?? now,
            deadline: after.deadline
        )
        return RuntimeDecision(
            events: events,
            commands: decision.commands,
            timers: decision.timers,
            cancelledTimers: decision.cancelledTimers,
            instance: wrap(after),
            snapshot: snapshot
        )
    }

    private func wrap(_ instance: SagaInstance<State>) -> RuntimeInstance {
        RuntimeInstance(
            sagaId: instance.sagaId,
            sagaType: name,
            version: version,
            lastSequence: instance.lastSequence,
            isFinal: instance.status.isFinal,
            storage: instance
        )
    }
}
