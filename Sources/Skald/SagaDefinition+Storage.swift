import Foundation

extension SagaDefinition {
    /// Reads stored events (one JSON object each, as in `saga_events`) with this
    /// definition's payload types, so folding them needs no further JSON work.
    public func decodeEvents<Bytes: Collection<UInt8>>(_ stored: [Bytes]) throws -> [SagaEvent] {
        try engine.decodeEvents(stored)
    }

    /// Reads one stored event with this definition's payload types.
    public func decodeEvent(_ bytes: some Collection<UInt8>) throws -> SagaEvent {
        try engine.decodeEvents([Array(bytes)])[0]
    }
}

extension EngineDefinition {
    /// Reads stored events (one JSON object each, as in `saga_events`) with this
    /// definition's payload types, so folding them needs no further JSON work.
    ///
    /// A payload that does not fit the current types (an old log, a changed
    /// message) is kept as a ``JSONValue`` and converted when a handler needs it.
    func decodeEvents<Bytes: Collection<UInt8>>(_ stored: [Bytes]) throws -> [SagaEvent] {
        let userInfo: [CodingUserInfoKey: any Sendable] = [EventDecodingContext.key: decodingContext]
        var foundation: JSONDecoder?
        var events: [SagaEvent] = []
        events.reserveCapacity(stored.count)
        for (position, bytes) in stored.enumerated() {
            let row = Array(bytes)
            // The fast path, or Foundation for what it does not vouch for (and for every error).
            if let event = JSONTape.decode(row, userInfo: userInfo, { try SagaEvent(from: $0) }) {
                events.append(event)
                continue
            }
            do {
                let decoder = foundation ?? JSONCoding.decoder()
                decoder.userInfo = userInfo
                foundation = decoder
                events.append(try decoder.decode(SagaEvent.self, from: Data(row)))
            } catch {
                throw SagaError(.undecodable, "\(name) v\(version): stored event \(position + 1) does not decode: \(error)")
            }
        }
        return events
    }

    var decodingContext: EventDecodingContext {
        let steps = self.steps
        let stepIndex = self.stepIndex
        let triggers = self.startTriggers
        let decodeState = self.decodeStateJSON
        return EventDecodingContext(
            stepIndex: { stepIndex[$0] ?? -1 },
            payload: { eventType, stepName, messageType, decoder in
                switch eventType {
                case "saga.started":
                    guard triggers.contains(where: { $0.messageType == messageType }) else { return nil }
                    return try? decodeState(decoder)
                case "step.succeeded", "step.failed":
                    guard let stepName, let index = stepIndex[stepName] else { return nil }
                    let reply =
                        eventType == "step.succeeded"
                        ? steps[index].successReply(messageType) : steps[index].failureReply(messageType)
                    return reply.flatMap { try? $0.decode(decoder) }
                default:
                    return nil
                }
            })
    }
}
