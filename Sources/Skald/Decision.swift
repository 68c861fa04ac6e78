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
        // Written straight into one buffer: ids are made for every command on the hot path.
        IdBuilder.make(sagaId, step, purpose == .action ? "/action/" : "/compensation/", attempt)
    }

    /// Where the parts of a command id lie, as byte offsets; nil when it is not one.
    ///
    /// Works on the raw UTF-8 bytes: it runs for every reply, on the hot path.
    static func locate(
        _ bytes: UnsafeBufferPointer<UInt8>
    ) -> (sagaIdEnd: Int, stepEnd: Int, purpose: Purpose, attempt: Int)? {
        var slashes = (0, 0, 0)
        var found = 0
        var position = bytes.count
        while position > 0 && found < 3 {
            position -= 1
            if bytes[position] == UInt8(ascii: "/") {
                switch found {
                case 0: slashes.0 = position
                case 1: slashes.1 = position
                default: slashes.2 = position
                }
                found += 1
            }
        }
        guard found == 3 else { return nil }
        var attempt = 0
        var index = slashes.0 + 1
        guard index < bytes.count, bytes.count - index <= 18 else { return nil }
        while index < bytes.count {
            let digit = bytes[index]
            guard digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "9") else { return nil }
            attempt = attempt * 10 + Int(digit - UInt8(ascii: "0"))
            index += 1
        }
        let purposeLength = slashes.0 - slashes.1 - 1
        let purpose: Purpose
        if purposeLength == 6 && bytes[slashes.1 + 1] == UInt8(ascii: "a") {
            purpose = .action
        } else if purposeLength == 12 && bytes[slashes.1 + 1] == UInt8(ascii: "c") {
            purpose = .compensation
        } else {
            return nil
        }
        return (slashes.2, slashes.1, purpose, attempt)
    }

    /// Splits an id into its parts.
    static func split(id: String) -> (sagaId: Substring, step: Substring, purpose: Purpose, attempt: Int)? {
        var copy = id
        guard let found = copy.withUTF8({ locate($0) }) else { return nil }
        let utf8 = id.utf8
        let sagaEnd = utf8.index(utf8.startIndex, offsetBy: found.sagaIdEnd)
        let stepStart = utf8.index(after: sagaEnd)
        let stepEnd = utf8.index(utf8.startIndex, offsetBy: found.stepEnd)
        let purposeText = id[utf8.index(after: stepEnd)..<utf8.index(stepEnd, offsetBy: found.purpose == .action ? 7 : 13)]
        guard purposeText == found.purpose.rawValue else { return nil }
        return (id[..<sagaEnd], id[stepStart..<stepEnd], found.purpose, found.attempt)
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

/// Builds the deterministic ids of commands and timers (`<sagaId>/<step><middle><attempt>`)
/// with one allocation and no intermediate strings.
enum IdBuilder {
    static func make(_ sagaId: String, _ step: String, _ middle: StaticString, _ attempt: Int) -> String {
        guard attempt >= 0 else {
            return sagaId + "/" + step + middle.description + String(attempt)
        }
        var digits = 1
        var rest = attempt / 10
        while rest > 0 {
            digits += 1
            rest /= 10
        }
        var sagaId = sagaId
        var step = step
        let sagaCount = sagaId.utf8.count
        let stepCount = step.utf8.count
        let middleCount = middle.utf8CodeUnitCount
        let total = sagaCount + 1 + stepCount + middleCount + digits
        return String(unsafeUninitializedCapacity: total) { buffer in
            guard let base = buffer.baseAddress else { return 0 }
            sagaId.withUTF8 { bytes in
                if let source = bytes.baseAddress { (base).update(from: source, count: sagaCount) }
            }
            base[sagaCount] = UInt8(ascii: "/")
            step.withUTF8 { bytes in
                if let source = bytes.baseAddress { (base + sagaCount + 1).update(from: source, count: stepCount) }
            }
            (base + sagaCount + 1 + stepCount).update(from: middle.utf8Start, count: middleCount)
            var position = total
            var value = attempt
            repeat {
                position -= 1
                base[position] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: value % 10)
                value /= 10
            } while value > 0
            return total
        }
    }
}
