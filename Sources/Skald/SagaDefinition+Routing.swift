public import Foundation

// What a runtime needs to route raw messages to instances of this saga: which
// topics to read, how to decode a payload by its `ce_type`, and which business
// key a message from a saga-unaware service carries.

extension SagaDefinition {
    /// Every topic whose messages this saga consumes: the reply topic, the topics of
    /// domain events that start it, and those of replies and confirmations that
    /// arrive as domain events.
    public var inputTopics: Set<String> {
        var topics: Set<String> = [replyTopic]
        for trigger in startTriggers {
            if case .event(let topic) = trigger.source { topics.insert(topic) }
        }
        for step in steps {
            for reply in step.successReplies + step.failureReplies {
                if let topic = reply.topic { topics.insert(topic) }
            }
            if let topic = step.compensation?.topic { topics.insert(topic) }
        }
        return topics
    }

    /// The start trigger for a message of `messageType` (and, for domain events, from `topic`).
    public func startTrigger(messageType: String, topic: String?) -> StartTrigger<State>? {
        startTriggers.first { trigger in
            guard trigger.messageType == messageType else { return false }
            switch trigger.source {
            case .command: return topic == nil || topic == replyTopic
            case .event(let eventTopic): return topic == nil || topic == eventTopic
            }
        }
    }

    /// Decodes a payload with the Swift type this saga expects for `messageType`
    /// (a start message, a reply or a compensation confirmation); a type it does
    /// not know comes back as a ``JSONValue`` so nothing is lost.
    ///
    /// - Throws: when the bytes are not JSON, or do not fit the expected type.
    public func decodePayload(messageType: String, json: some Collection<UInt8>) throws -> Payload {
        let data = Data(json)
        let decoder = JSONDecoder()
        if let trigger = startTriggers.first(where: { $0.messageType == messageType }) {
            return try decoder.decode(DecodeThrough.self, from: data, with: trigger.decode)
        }
        for step in steps {
            if let reply = step.successReply(messageType) ?? step.failureReply(messageType) {
                return try decoder.decode(DecodeThrough.self, from: data, with: reply.decode)
            }
            if let decode = step.compensation?.decoders[messageType] {
                return try decoder.decode(DecodeThrough.self, from: data, with: decode)
            }
        }
        return Payload(try decoder.decode(JSONValue.self, from: data))
    }

    /// The business key a message from a saga-unaware service carries (e.g. its
    /// `orderId`), when some step of this saga correlates `messageType` by a payload field.
    public func correlationKey(messageType: String, payload: Payload) -> String? {
        for step in steps {
            for reply in step.successReplies + step.failureReplies where reply.messageType == messageType {
                if let key = reply.correlationKey?(payload) { return key }
            }
            if let key = step.compensation?.correlationKey[messageType]?(payload) { return key }
        }
        return nil
    }
}

extension StartTrigger {
    /// The business key of a domain event that starts the saga (nil for API starts).
    public func businessKey(of payload: Payload) -> String? {
        key?(payload)
    }
}

/// Runs a stored decoding closure inside `JSONDecoder`.
private struct DecodeThrough: Sendable {
    let payload: Payload
}

extension JSONDecoder {
    fileprivate func decode(
        _: DecodeThrough.Type, from data: Data, with decode: @escaping @Sendable (any Decoder) throws -> Payload
    ) throws -> Payload {
        let box = DecodeBox(decode: decode)
        userInfo[DecodeBox.key] = box
        return try self.decode(DecodeThrough.self, from: data).payload
    }
}

private final class DecodeBox: Sendable {
    static let key = CodingUserInfoKey(rawValue: "skald.decodeThrough")!
    let decode: @Sendable (any Decoder) throws -> Payload
    init(decode: @escaping @Sendable (any Decoder) throws -> Payload) { self.decode = decode }
}

extension DecodeThrough: Decodable {
    init(from decoder: any Decoder) throws {
        guard let box = decoder.userInfo[DecodeBox.key] as? DecodeBox else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "no payload decoder given"))
        }
        payload = try box.decode(decoder)
    }
}
