import Foundation

/// The schema version written into every event; readers accept this and older.
public let sagaEventSchemaVersion = 1

/// What a reader knows about the saga an event belongs to: step indices and the
/// Swift types of payloads. Without it payloads decode as ``JSONValue``.
struct EventDecodingContext: Sendable {
    static let key = CodingUserInfoKey(rawValue: "skald.eventDecoding")!

    let stepIndex: @Sendable (String) -> Int
    /// Decodes the payload of an event of `eventType` about `step` whose message type is `messageType`.
    let payload: @Sendable (_ eventType: String, _ step: String?, _ messageType: String, any Decoder) throws -> Payload?
}

extension SagaEvent: Codable {
    enum Keys: String, CodingKey {
        case schema, type, sequence, time
        case step, attempt, commandId, reply, messageId, payload, due, reason, actor, compensating
        case trigger, state, deadline, messageType, action, causationId
    }

    /// Writes the stable JSON form.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(sagaEventSchemaVersion, forKey: .schema)
        try container.encode(kind.typeName, forKey: .type)
        try container.encode(sequence, forKey: .sequence)
        try container.encode(Timestamp.format(time), forKey: .time)
        func payload(_ value: Payload) throws {
            try AnyEncodable(value.value).encode(to: container.superEncoder(forKey: .payload))
        }
        switch kind {
        case .started(let trigger, let state, let deadline):
            try container.encode(trigger, forKey: .trigger)
            try AnyEncodable(state.value).encode(to: container.superEncoder(forKey: .state))
            try container.encodeIfPresent(deadline.map(Timestamp.format), forKey: .deadline)
        case .stepCommandSent(let step, let attempt, let commandId), .compensationSent(let step, let attempt, let commandId):
            try container.encode(step.name, forKey: .step)
            try container.encode(attempt, forKey: .attempt)
            try container.encode(commandId, forKey: .commandId)
        case .stepSucceeded(let step, let attempt, let reply, let messageId, let value),
            .stepFailed(let step, let attempt, let reply, let messageId, let value):
            try container.encode(step.name, forKey: .step)
            try container.encodeIfPresent(attempt, forKey: .attempt)
            try container.encode(reply, forKey: .reply)
            try container.encode(messageId, forKey: .messageId)
            try payload(value)
        case .stepTimedOut(let step, let attempt):
            try container.encode(step.name, forKey: .step)
            try container.encode(attempt, forKey: .attempt)
        case .stepRetryScheduled(let step, let attempt, let due), .compensationRetryScheduled(let step, let attempt, let due):
            try container.encode(step.name, forKey: .step)
            try container.encode(attempt, forKey: .attempt)
            try container.encode(Timestamp.format(due), forKey: .due)
        case .stepSkipped(let step, let reason):
            try container.encode(step.name, forKey: .step)
            try container.encode(reason, forKey: .reason)
        case .stepSkippedByOperator(let step, let actor), .compensationSkippedByOperator(let step, let actor):
            try container.encode(step.name, forKey: .step)
            try container.encode(actor, forKey: .actor)
        case .compensationStarted(let reason, let step):
            try container.encode(reason, forKey: .reason)
            try container.encodeIfPresent(step?.name, forKey: .step)
        case .compensationSucceeded(let step, let attempt, let reply, let messageId):
            try container.encode(step.name, forKey: .step)
            try container.encodeIfPresent(attempt, forKey: .attempt)
            try container.encode(reply, forKey: .reply)
            try container.encode(messageId, forKey: .messageId)
        case .compensationFailed(let step, let attempt, let reply):
            try container.encode(step.name, forKey: .step)
            try container.encode(attempt, forKey: .attempt)
            try container.encodeIfPresent(reply, forKey: .reply)
        case .completed, .compensated, .deadlineExceeded:
            break
        case .failedNeedsOperator(let step, let compensating, let reason):
            try container.encode(step.name, forKey: .step)
            try container.encode(compensating, forKey: .compensating)
            try container.encode(reason, forKey: .reason)
        case .abortRequested(let actor, let reason):
            try container.encode(actor, forKey: .actor)
            try container.encode(reason, forKey: .reason)
        case .retryRequested(let step, let compensating, let actor):
            try container.encode(step.name, forKey: .step)
            try container.encode(compensating, forKey: .compensating)
            try container.encode(actor, forKey: .actor)
        case .operatorCommandRejected(let action, let actor, let step, let reason):
            try container.encode(action, forKey: .action)
            try container.encode(actor, forKey: .actor)
            try container.encodeIfPresent(step, forKey: .step)
            try container.encode(reason, forKey: .reason)
        case .inputIgnored(let messageType, let messageId, let step, let causationId, let reason):
            try container.encode(messageType, forKey: .messageType)
            try container.encodeIfPresent(causationId, forKey: .causationId)
            try container.encodeIfPresent(messageId, forKey: .messageId)
            try container.encodeIfPresent(step, forKey: .step)
            try container.encode(reason, forKey: .reason)
        }
    }

    /// Reads the stable JSON form; unknown types and newer schemas are clear errors.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Keys.self)
        let schema = try container.decode(Int.self, forKey: .schema)
        guard schema >= 1, schema <= sagaEventSchemaVersion else {
            throw DecodingError.dataCorruptedError(
                forKey: .schema, in: container,
                debugDescription: "saga event schema \(schema) is not supported (this build reads 1...\(sagaEventSchemaVersion))")
        }
        let type = try container.decode(String.self, forKey: .type)
        sequence = try container.decode(Int.self, forKey: .sequence)
        time = try Self.date(container, .time)
        let context = decoder.userInfo[EventDecodingContext.key] as? EventDecodingContext

        func step() throws -> StepRef {
            let name = try container.decode(String.self, forKey: .step)
            return StepRef(name: name, index: context?.stepIndex(name) ?? -1)
        }
        func optionalStep() throws -> StepRef? {
            guard let name = try container.decodeIfPresent(String.self, forKey: .step) else { return nil }
            return StepRef(name: name, index: context?.stepIndex(name) ?? -1)
        }
        func payload(_ key: Keys, stepName: String?, messageType: String) throws -> Payload {
            let nested = try container.superDecoder(forKey: key)
            if let context, let typed = try context.payload(type, stepName, messageType, nested) { return typed }
            return Payload(try JSONValue(from: nested))
        }
        func int(_ key: Keys) throws -> Int { try container.decode(Int.self, forKey: key) }
        func string(_ key: Keys) throws -> String { try container.decode(String.self, forKey: key) }

        switch type {
        case "saga.started":
            let trigger = try string(.trigger)
            kind = .started(
                trigger: trigger, state: try payload(.state, stepName: nil, messageType: trigger),
                deadline: try container.decodeIfPresent(String.self, forKey: .deadline) == nil ? nil : Self.date(container, .deadline))
        case "step.command-sent":
            kind = .stepCommandSent(step: try step(), attempt: try int(.attempt), commandId: try string(.commandId))
        case "step.succeeded", "step.failed":
            let ref = try step()
            let reply = try string(.reply)
            let attempt = try container.decodeIfPresent(Int.self, forKey: .attempt)
            let messageId = try string(.messageId)
            let value = try payload(.payload, stepName: ref.name, messageType: reply)
            kind =
                type == "step.succeeded"
                ? .stepSucceeded(step: ref, attempt: attempt, reply: reply, messageId: messageId, payload: value)
                : .stepFailed(step: ref, attempt: attempt, reply: reply, messageId: messageId, payload: value)
        case "step.timed-out":
            kind = .stepTimedOut(step: try step(), attempt: try int(.attempt))
        case "step.retry-scheduled":
            kind = .stepRetryScheduled(step: try step(), attempt: try int(.attempt), due: try Self.date(container, .due))
        case "step.skipped":
            kind = .stepSkipped(step: try step(), reason: try container.decode(SagaEvent.SkipReason.self, forKey: .reason))
        case "step.skipped-by-operator":
            kind = .stepSkippedByOperator(step: try step(), actor: try string(.actor))
        case "compensation.started":
            kind = .compensationStarted(
                reason: try container.decode(SagaEvent.CompensationReason.self, forKey: .reason), step: try optionalStep())
        case "compensation.command-sent":
            kind = .compensationSent(step: try step(), attempt: try int(.attempt), commandId: try string(.commandId))
        case "compensation.succeeded":
            kind = .compensationSucceeded(
                step: try step(), attempt: try container.decodeIfPresent(Int.self, forKey: .attempt),
                reply: try string(.reply), messageId: try string(.messageId))
        case "compensation.failed":
            kind = .compensationFailed(
                step: try step(), attempt: try int(.attempt),
                reply: try container.decodeIfPresent(String.self, forKey: .reply))
        case "compensation.retry-scheduled":
            kind = .compensationRetryScheduled(step: try step(), attempt: try int(.attempt), due: try Self.date(container, .due))
        case "compensation.skipped-by-operator":
            kind = .compensationSkippedByOperator(step: try step(), actor: try string(.actor))
        case "saga.completed": kind = .completed
        case "saga.compensated": kind = .compensated
        case "saga.deadline-exceeded": kind = .deadlineExceeded
        case "saga.failed-needs-operator":
            kind = .failedNeedsOperator(
                step: try step(), compensating: try container.decode(Bool.self, forKey: .compensating),
                reason: try string(.reason))
        case "operator.abort-requested":
            kind = .abortRequested(actor: try string(.actor), reason: try string(.reason))
        case "operator.retry-requested":
            kind = .retryRequested(
                step: try step(), compensating: try container.decode(Bool.self, forKey: .compensating),
                actor: try string(.actor))
        case "operator.command-rejected":
            kind = .operatorCommandRejected(
                action: try container.decode(SagaEvent.OperatorAction.self, forKey: .action), actor: try string(.actor),
                step: try container.decodeIfPresent(String.self, forKey: .step), reason: try string(.reason))
        case "saga.input-ignored":
            kind = .inputIgnored(
                messageType: try string(.messageType),
                messageId: try container.decodeIfPresent(String.self, forKey: .messageId),
                step: try container.decodeIfPresent(String.self, forKey: .step),
                causationId: try container.decodeIfPresent(String.self, forKey: .causationId), reason: try string(.reason))
        default:
            throw DecodingError.dataCorruptedError(
                forKey: .type, in: container, debugDescription: "unknown saga event type '\(type)' (schema \(schema))")
        }
    }

    private static func date(_ container: KeyedDecodingContainer<Keys>, _ key: Keys) throws -> Date {
        let text = try container.decode(String.self, forKey: key)
        guard let date = Timestamp.parse(text) else {
            throw DecodingError.dataCorruptedError(
                forKey: key, in: container, debugDescription: "'\(text)' is not an RFC 3339 timestamp")
        }
        return date
    }
}

extension SagaEvent {
    /// The event as one JSON object (a `saga_events` row's body).
    public func jsonBytes() throws -> [UInt8] {
        if let bytes = directJSONBytes() { return bytes }
        return try JSONCoding.encode(self)
    }

    /// The event through `encode(to:)`: what ``jsonBytes()`` must equal.
    func codableJSONBytes() throws -> [UInt8] {
        try JSONCoding.encode(self)
    }

    /// Reads one stored event without a definition: payloads come back as ``JSONValue``.
    public static func decode(jsonBytes: some Collection<UInt8>) throws -> SagaEvent {
        let row = Array(jsonBytes)
        if let event = JSONTape.decode(row, { try SagaEvent(from: $0) }) { return event }
        return try JSONCoding.decoder().decode(SagaEvent.self, from: Data(row))
    }
}
