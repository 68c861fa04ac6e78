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
    /// Timers whose purpose is gone (a reply beat its timeout); firing them anyway is harmless.
    /// Their ids are `kind.id(sagaId:)`.
    public var cancelledTimers: [TimerKind]
    /// The instance after the events: equal to folding them into the input instance.
    public var instance: SagaInstance<State>

    init(_ decision: EngineDecision) {
        // (the instance is wrapped, not copied)
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
        // Built with one allocation: ids are made for every command on the hot path.
        var id = String()
        id.reserveCapacity(sagaId.utf8.count + step.utf8.count + 24)
        id += sagaId
        id += "/"
        id += step
        id += purpose == .action ? "/action/" : "/compensation/"
        id += String(attempt)
        return id
    }

    /// The parts of a command id as slices of it, without allocating; nil when it is not one.
    static func split(id: String) -> (sagaId: Substring, step: Substring, purpose: Purpose, attempt: Int)? {
        let utf8 = id.utf8
        var index = utf8.endIndex
        var found = 0
        var last = utf8.endIndex
        var middle = utf8.endIndex
        var first = utf8.endIndex
        while index > utf8.startIndex && found < 3 {
            index = utf8.index(before: index)
            if utf8[index] == UInt8(ascii: "/") {
                switch found {
                case 0: last = index
                case 1: middle = index
                default: first = index
                }
                found += 1
            }
        }
        guard found == 3 else { return nil }
        let purposeText = id[id.index(after: middle)..<last]
        let purpose: Purpose
        if purposeText == "action" {
            purpose = .action
        } else if purposeText == "compensation" {
            purpose = .compensation
        } else {
            return nil
        }
        guard let attempt = Int(id[id.index(after: last)...]) else { return nil }
        return (id[..<first], id[id.index(after: first)..<middle], purpose, attempt)
    }

    /// Parses an id made by ``id(sagaId:step:purpose:attempt:)`` (the saga id may itself contain `/`).
    public static func parse(id: String) -> (sagaId: String, step: String, purpose: Purpose, attempt: Int)? {
        split(id: id).map { (String($0.sagaId), String($0.step), $0.purpose, $0.attempt) }
    }
}

/// A durable timer to arm.
public struct TimerRequest: Sendable, Hashable {
    /// The saga it belongs to.
    public var sagaId: String
    /// When it fires.
    public var due: Date
    /// What it is for.
    public var kind: TimerKind

    /// Deterministic id (see ``TimerKind/id(sagaId:)``), built on demand.
    public var id: String { kind.id(sagaId: sagaId) }

    /// A timer request.
    public init(sagaId: String, due: Date, kind: TimerKind) {
        self.sagaId = sagaId
        self.due = due
        self.kind = kind
    }
}
