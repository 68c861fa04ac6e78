import Foundation

/// A saga event's canonical JSON written member by member, without going through `Encoder`.
///
/// Every transition writes two or more events, and encoding them through `Codable` (a keyed
/// container, a level per member, members sorted when the object closes) was 7 % of the
/// orchestrator bench's CPU. An event's members are known, so this writes them straight
/// into the buffer in sorted order. Payloads (`payload`, `state`) are arbitrary `Encodable`
/// values and still go through ``CanonicalJSONEncoder``; their bytes are spliced in.
///
/// The bytes must be exactly those of `SagaEvent.encode(to:)` under `JSONCoding`, since
/// stored events are compared and replayed: `SagaEventEncodingTests` checks random events of
/// every kind against both that path and Foundation's `JSONEncoder`. When a payload cannot be
/// written on the fast path (it throws, or encodes nothing at the top level), this returns
/// nil and the caller takes the `Codable` path, which reports the error as it always did.
extension SagaEvent {
    /// The members an event can have, each set only when the event kind writes it.
    ///
    /// Written in the order of their names' UTF-8 bytes, which is the order `JSONCoding`
    /// sorts keys in; the order of the stored properties below is that order.
    private struct Members {
        var action: String?
        var actor: String?
        var attempt: Int?
        var causationId: String?
        var commandId: String?
        var compensating: Bool?
        var deadline: Date?
        var due: Date?
        var messageId: String?
        var messageType: String?
        var payload: [UInt8]?
        var reason: String?
        var reply: String?
        // schema and sequence are always written, between reply and state.
        var state: [UInt8]?
        var step: String?
        // time, then trigger, then type, are written last.
        var trigger: String?
    }

    /// The event's canonical JSON, or nil when a payload needs the `Codable` path.
    func directJSONBytes() -> [UInt8]? {
        var members = Members()
        func payload(_ value: Payload) -> [UInt8]? {
            CanonicalJSONEncoder.encodeWithoutFallback(AnyEncodable(value.value))
        }
        switch kind {
        case .started(let trigger, let state, let deadline):
            members.trigger = trigger
            guard let bytes = payload(state) else { return nil }
            members.state = bytes
            members.deadline = deadline
        case .stepCommandSent(let step, let attempt, let commandId), .compensationSent(let step, let attempt, let commandId):
            members.step = step.name
            members.attempt = attempt
            members.commandId = commandId
        case .stepSucceeded(let step, let attempt, let reply, let messageId, let value),
            .stepFailed(let step, let attempt, let reply, let messageId, let value):
            members.step = step.name
            members.attempt = attempt
            members.reply = reply
            members.messageId = messageId
            guard let bytes = payload(value) else { return nil }
            members.payload = bytes
        case .stepTimedOut(let step, let attempt):
            members.step = step.name
            members.attempt = attempt
        case .stepRetryScheduled(let step, let attempt, let due), .compensationRetryScheduled(let step, let attempt, let due):
            members.step = step.name
            members.attempt = attempt
            members.due = due
        case .stepSkipped(let step, let reason):
            members.step = step.name
            members.reason = reason.rawValue
        case .stepSkippedByOperator(let step, let actor), .compensationSkippedByOperator(let step, let actor):
            members.step = step.name
            members.actor = actor
        case .compensationStarted(let reason, let step):
            members.reason = reason.rawValue
            members.step = step?.name
        case .compensationSucceeded(let step, let attempt, let reply, let messageId):
            members.step = step.name
            members.attempt = attempt
            members.reply = reply
            members.messageId = messageId
        case .compensationFailed(let step, let attempt, let reply):
            members.step = step.name
            members.attempt = attempt
            members.reply = reply
        case .completed, .compensated, .deadlineExceeded:
            break
        case .failedNeedsOperator(let step, let compensating, let reason):
            members.step = step.name
            members.compensating = compensating
            members.reason = reason
        case .abortRequested(let actor, let reason):
            members.actor = actor
            members.reason = reason
        case .retryRequested(let step, let compensating, let actor):
            members.step = step.name
            members.compensating = compensating
            members.actor = actor
        case .operatorCommandRejected(let action, let actor, let step, let reason):
            members.action = action.rawValue
            members.actor = actor
            members.step = step
            members.reason = reason
        case .inputIgnored(let messageType, let messageId, let step, let causationId, let reason):
            members.messageType = messageType
            members.causationId = causationId
            members.messageId = messageId
            members.step = step
            members.reason = reason
        }

        // Room for the members besides the payloads: the largest event with fixed members only
        // (a step's answer, its ids and names) takes about 250 bytes, so the buffer is usually
        // allocated once; long reasons or escapes grow it.
        var buffer = CanonicalJSONBuffer(
            scalarsOnlyWithCapacity: 320 + (members.payload?.count ?? 0) + (members.state?.count ?? 0))
        buffer.bytes.append(UInt8(ascii: "{"))
        var first = true
        func key(_ name: StaticString) {
            if !first { buffer.bytes.append(UInt8(ascii: ",")) }
            first = false
            buffer.bytes.append(UInt8(ascii: "\""))
            buffer.writeASCII(name)
            buffer.writeASCII("\":")
        }
        func string(_ name: StaticString, _ value: String?) {
            guard let value else { return }
            key(name)
            buffer.writeString(value)
        }
        func integer(_ name: StaticString, _ value: Int?) {
            guard let value else { return }
            key(name)
            buffer.writeInteger(Int64(value))
        }
        func timestamp(_ name: StaticString, _ value: Date?) {
            guard let value else { return }
            key(name)
            buffer.writeTimestamp(value)
        }
        func raw(_ name: StaticString, _ value: [UInt8]?) {
            guard let value else { return }
            key(name)
            buffer.bytes.append(contentsOf: value)
        }
        string("action", members.action)
        string("actor", members.actor)
        integer("attempt", members.attempt)
        string("causationId", members.causationId)
        string("commandId", members.commandId)
        if let compensating = members.compensating {
            key("compensating")
            buffer.writeBool(compensating)
        }
        timestamp("deadline", members.deadline)
        timestamp("due", members.due)
        string("messageId", members.messageId)
        string("messageType", members.messageType)
        raw("payload", members.payload)
        string("reason", members.reason)
        string("reply", members.reply)
        integer("schema", sagaEventSchemaVersion)
        integer("sequence", sequence)
        raw("state", members.state)
        string("step", members.step)
        timestamp("time", time)
        string("trigger", members.trigger)
        string("type", kind.typeName)
        buffer.bytes.append(UInt8(ascii: "}"))
        return buffer.bytes
    }
}
