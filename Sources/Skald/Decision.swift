public import Foundation

/// What the engine decided for one input: facts to append, commands to send,
/// timers to arm and timers no longer needed.
public struct Decision<State: Codable & Sendable & Equatable>: Sendable {
    /// New events, numbered after the instance's last sequence.
    public var events: [SagaEvent]
    /// Commands for the outbox.
    public var commands: [OutgoingCommand]
    /// Timers to arm (idempotent by id).
    public var timers: [TimerRequest]
    /// Ids of timers whose purpose is gone (a reply beat its timeout); firing them anyway is harmless.
    public var cancelledTimers: [String]
    /// The instance after the events: equal to folding them into the input instance.
    public var instance: SagaInstance<State>

    init(_ decision: EngineDecision) {
        events = decision.events
        commands = decision.commands
        timers = decision.timers
        cancelledTimers = decision.cancelledTimers
        instance = SagaInstance(core: decision.instance)
    }
}

/// A command (or compensation command) to publish.
public struct OutgoingCommand: Sendable, Equatable {
    /// Action or compensation.
    public enum Purpose: String, Sendable, Hashable, Codable {
        /// The step's command.
        case action
        /// The step's compensation.
        case compensation
    }

    /// Deterministic: `<sagaId>/<step>/<action|compensation>/<attempt>`; participants dedupe on it.
    public var id: String
    /// The topic to publish to.
    public var topic: String
    /// The Kafka key: the saga id.
    public var key: String
    /// `ce_type`.
    public var messageType: String
    /// `ce_sagatype`.
    public var sagaType: String
    /// `ce_sagastep`.
    public var step: String
    /// Action or compensation.
    public var purpose: Purpose
    /// 1 for the first send.
    public var attempt: Int
    /// `ce_causationid`: the id of the message or timer that caused this command.
    public var causationId: String?
    /// The typed body.
    public var payload: Payload

    /// The command id for a step, purpose and attempt.
    public static func id(sagaId: String, step: String, purpose: Purpose, attempt: Int) -> String {
        "\(sagaId)/\(step)/\(purpose.rawValue)/\(attempt)"
    }

    /// Parses an id made by ``id(sagaId:step:purpose:attempt:)`` (the saga id may itself contain `/`).
    public static func parse(id: String) -> (sagaId: String, step: String, purpose: Purpose, attempt: Int)? {
        let parts = id.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 4, let attempt = Int(parts[parts.count - 1]),
            let purpose = Purpose(rawValue: String(parts[parts.count - 2]))
        else { return nil }
        return (parts[0..<(parts.count - 3)].joined(separator: "/"), String(parts[parts.count - 3]), purpose, attempt)
    }
}

/// A durable timer to arm.
public struct TimerRequest: Sendable, Hashable {
    /// Deterministic id (see ``TimerKind/id(sagaId:)``).
    public var id: String
    /// When it fires.
    public var due: Date
    /// What it is for.
    public var kind: TimerKind
}
