public import Foundation

extension SagaDefinition: RuntimeSagaDefinition {
    /// Start triggers, reply types (on the definition's reply topic) and correlated domain events.
    public var subscriptions: [SagaSubscription] {
        var result: [SagaSubscription] = []
        var seen: Set<SagaSubscription> = []
        func add(_ subscription: SagaSubscription) {
            if seen.insert(subscription).inserted { result.append(subscription) }
        }
        for trigger in startTriggers {
            switch trigger.source {
            case .command: add(SagaSubscription(topic: replyTopic, messageType: trigger.messageType, role: .start))
            case .event(let topic): add(SagaSubscription(topic: topic, messageType: trigger.messageType, role: .start))
            }
        }
        for step in engine.steps {
            for reply in step.successReplies + step.failureReplies {
                if let topic = reply.topic, reply.correlationKey != nil {
                    add(SagaSubscription(topic: topic, messageType: reply.messageType, role: .correlatedEvent))
                } else {
                    add(SagaSubscription(topic: replyTopic, messageType: reply.messageType, role: .reply))
                }
            }
            if let compensation = step.compensation {
                for type in compensation.confirmations + compensation.rejections {
                    if let topic = compensation.topic, compensation.correlationKey[type] != nil {
                        add(SagaSubscription(topic: topic, messageType: type, role: .correlatedEvent))
                    } else {
                        add(SagaSubscription(topic: replyTopic, messageType: type, role: .reply))
                    }
                }
            }
        }
        return result
    }

    /// The saga id of an instance started by an event with this business key.
    public func sagaId(forBusinessKey key: String) -> String {
        "\(name)-\(key)"
    }

    /// Start, deliver by `ce_sagaid`, or correlate by a payload field; nil if not for this saga type.
    public func route(topic: String, envelope: MessageEnvelope, payload: [UInt8]) throws -> SagaRoute? {
        if envelope.sagaType == nil || envelope.sagaType == name, let sagaId = envelope.sagaId,
            expects(messageType: envelope.type)
        {
            return .deliver(sagaId: sagaId)
        }
        for trigger in startTriggers where trigger.messageType == envelope.type {
            switch trigger.source {
            case .event(let triggerTopic) where triggerTopic == topic:
                let decoded = try decodePayload(payload, messageType: envelope.type, with: trigger.decode)
                guard let key = trigger.key?(decoded), !key.isEmpty else {
                    throw SagaError(.undecodable, "\(name): the \(envelope.type) event carries no business key")
                }
                return .start(sagaId: sagaId(forBusinessKey: key), businessKey: key)
            case .command where envelope.sagaType == nil || envelope.sagaType == name:
                return .start(sagaId: envelope.sagaId ?? envelope.id, businessKey: nil)
            default:
                continue
            }
        }
        for step in engine.steps {
            for reply in step.successReplies + step.failureReplies
            where reply.messageType == envelope.type && reply.topic == topic {
                guard let correlationKey = reply.correlationKey else { continue }
                let decoded = try decodePayload(payload, messageType: envelope.type, with: reply.decode)
                guard let key = correlationKey(decoded) else { continue }
                return .correlate(businessKey: key)
            }
            if let compensation = step.compensation, compensation.topic == topic,
                let correlationKey = compensation.correlationKey[envelope.type],
                let decode = compensation.decoders[envelope.type]
            {
                let decoded = try decodePayload(payload, messageType: envelope.type, with: decode)
                if let key = correlationKey(decoded) { return .correlate(businessKey: key) }
            }
        }
        return nil
    }

    /// Folds stored rows, decoding payloads to this definition's types.
    public func load(sagaId: String, events: [StoredSagaEvent]) throws -> AnySagaInstance {
        var instance = InstanceCore(sagaId: sagaId)
        for event in try engine.decodeEvents(events.map(\.data)) { try engine.apply(event, to: &instance) }
        return AnySagaInstance(instance, sagaType: name, version: version)
    }

    /// Decodes the input's JSON with this definition's types, decides, and encodes the results.
    public func decide(_ erased: AnySagaInstance, _ input: RuntimeInput, now: Date) throws -> RuntimeDecision {
        let instance = try typed(erased)
        var traceparent: String?
        let typedInput: SagaInput
        switch input {
        case .start(let envelope, let payload):
            traceparent = envelope.traceparent
            guard let trigger = startTriggers.first(where: { $0.messageType == envelope.type }) else {
                throw SagaError(.unknownStartMessage, "\(name) is not started by '\(envelope.type)'")
            }
            let decoded = try decodePayload(payload, messageType: envelope.type, with: trigger.decode)
            typedInput = .start(StartMessage(messageType: envelope.type, messageId: envelope.id, payload: decoded))
        case .message(let envelope, let payload):
            traceparent = envelope.traceparent
            let decoded: Payload
            if let decode = decoder(forReply: envelope.type) {
                decoded = try decodePayload(payload, messageType: envelope.type, with: decode)
            } else {
                // Not a type this saga knows: decide records it as ignored.
                decoded = Payload((try? JSONDecoder().decode(JSONValue.self, from: Data(payload))) ?? .null)
            }
            typedInput = .message(IncomingMessage(envelope: envelope, payload: decoded))
        case .timer(let kind):
            typedInput = .timer(kind)
        case .operatorCommand(let command):
            typedInput = .operatorCommand(command)
        }
        let decision = try engine.decide(instance, typedInput, now: now)
        let time = Timestamp.truncate(now)
        var commands: [RuntimeCommand] = []
        commands.reserveCapacity(decision.commands.count)
        for command in decision.commands {
            let bytes: [UInt8]
            do {
                bytes = try command.payload.jsonBytes()
            } catch {
                throw SagaError(.unencodable, "\(name) step '\(command.step)': the \(command.messageType) command cannot be encoded: \(error)")
            }
            commands.append(
                RuntimeCommand(
                    id: command.id, topic: command.topic, key: command.key,
                    envelope: command.envelope(source: "skald/\(name)", time: time, traceparent: traceparent),
                    payload: bytes, purpose: command.purpose))
        }
        var decided = decision.instance
        let snapshot = try snapshot(of: &decided)
        return RuntimeDecision(
            events: try decision.events.map(StoredSagaEvent.init), commands: commands, timers: decision.timers,
            cancelledTimers: decision.cancelledTimers, snapshot: snapshot,
            instance: AnySagaInstance(decided, sagaType: name, version: version),
            milestones: milestones(of: decision.events, before: instance))
    }

    /// The milestones among `events`, with step round trips timed from `instance`, the saga
    /// before them (where each running step's command-sent time is).
    func milestones(of events: [SagaEvent], before instance: InstanceCore) -> [SagaMilestone] {
        var milestones: [SagaMilestone] = []
        for event in events {
            switch event.kind {
            case .started: milestones.append(.started)
            case .completed: milestones.append(.completed)
            case .compensated: milestones.append(.compensated)
            case .failedNeedsOperator: milestones.append(.failedNeedsOperator)
            case .stepSucceeded(let ref, _, _, _, _), .stepFailed(let ref, _, _, _, _):
                guard let index = try? engine.resolve(ref), instance.steps.indices.contains(index),
                    let sent = instance.steps[index].commandSentAt
                else { continue }
                milestones.append(.stepAnswered(step: engine.steps[index].name, seconds: event.time.timeIntervalSince(sent)))
            default: continue
            }
        }
        return milestones
    }

    /// The snapshot row of an erased instance.
    public func snapshot(of erased: AnySagaInstance) throws -> SagaSnapshot {
        try snapshot(of: typed(erased))
    }

    /// The snapshot row of an instance.
    public func snapshot(of instance: SagaInstance<State>) throws -> SagaSnapshot {
        try snapshot(of: instance.core)
    }

    func snapshot(of instance: InstanceCore) throws -> SagaSnapshot {
        var instance = instance
        return try snapshot(of: &instance)
    }

    /// The snapshot row of an instance, which keeps its encoded state for the next one.
    func snapshot(of instance: inout InstanceCore) throws -> SagaSnapshot {
        let steps = engine.steps
        var current: String?
        if let stuck = instance.stuck {
            current = steps[stuck.step].name
        } else if instance.status == .compensating {
            current = instance.steps.indices.first { instance.steps[$0].compensation == .running || instance.steps[$0].compensation == .waitingRetry }
                .map { steps[$0].name }
        } else if instance.status == .running, instance.currentNode < nodes.count {
            current = engine.nodes[instance.currentNode].name
        }
        let state: [UInt8]
        if let encoded = instance.encodedState {
            state = encoded
        } else {
            do {
                state = try instance.data.map(engine.encodeState) ?? Array("null".utf8)
            } catch {
                throw SagaError(.unencodable, "\(name) saga \(instance.sagaId): the state cannot be encoded: \(error)")
            }
            instance.encodedState = state
        }
        return SagaSnapshot(
            sagaId: instance.sagaId, sagaType: name, version: version, status: instance.status, currentStep: current,
            businessKey: (instance.data as? StateBox<State>).map { businessKey($0.value) } ?? "", lastSequence: instance.lastSequence,
            startedAt: instance.startedAt, updatedAt: instance.updatedAt, stuckReason: instance.stuck?.reason,
            state: state,
            steps: steps.indices.map { index in
                let progress = instance.steps.indices.contains(index) ? instance.steps[index] : StepProgress()
                return StepSnapshot(
                    name: steps[index].name, kind: steps[index].kind, phase: progress.phase,
                    compensation: progress.compensation, attempt: progress.attempt)
            })
    }

    /// The topic step `step`'s command goes to.
    public func commandTopic(ofStep step: String) -> String? {
        guard let index = stepIndex(named: step) else { return nil }
        return engine.steps[index].command?.topic  // `steps` would build every public step value
    }

    /// The replay check over stored rows.
    public func replayCheck(sagaId: String, events: [StoredSagaEvent]) throws -> ReplayReport {
        replayCheck(sagaId: sagaId, events: try decodeEvents(events.map(\.data)))
    }

    /// Reads stored events with this definition's payload types.
    public func decodeStored(_ events: [StoredSagaEvent]) throws -> [SagaEvent] {
        try decodeEvents(events.map(\.data))
    }

    /// An empty instance to start, for the runtime.
    public func newInstance(sagaId: String) -> AnySagaInstance {
        AnySagaInstance(InstanceCore(sagaId: sagaId), sagaType: name, version: version)
    }

    func typed(_ erased: AnySagaInstance) throws -> InstanceCore {
        guard erased.sagaType == name, erased.version == version else {
            throw SagaError(
                .unknownDefinition,
                "instance \(erased.sagaId) is \(erased.sagaType) v\(erased.version), not \(name) v\(version)")
        }
        return erased.base
    }

    func expects(messageType: String) -> Bool {
        decoder(forReply: messageType) != nil
    }

    func decoder(forReply messageType: String) -> (@Sendable (any Decoder) throws -> Payload)? {
        engine.replyDecoders[messageType]
    }

    func decodePayload(
        _ bytes: [UInt8], messageType: String, with decode: @escaping @Sendable (any Decoder) throws -> Payload
    ) throws -> Payload {
        // The fast path, or Foundation for what it does not vouch for (and for every error).
        // The tape calls `decode` directly, so it needs no `userInfo`: only Foundation's
        // path carries the function in, to `PayloadDecoding.Box`. Building that dictionary
        // for every payload was a fifth of this function's time.
        if let payload = JSONTape.decode(bytes, decode) { return payload }
        let decoder = JSONCoding.decoder()  // dates as Skald writes them, or Foundation's default numbers
        decoder.userInfo = [PayloadDecoding.key: PayloadDecoding(decode: decode)]
        do {
            return try decoder.decode(PayloadDecoding.Box.self, from: Data(bytes)).payload
        } catch {
            throw SagaError(.undecodable, "\(name): the \(messageType) payload does not decode: \(error)")
        }
    }
}

/// Carries a type-specific decode function into `JSONDecoder`.
struct PayloadDecoding: Sendable {
    static let key = CodingUserInfoKey(rawValue: "skald.payloadDecoding")!
    let decode: @Sendable (any Decoder) throws -> Payload

    struct Box: Decodable {
        let payload: Payload

        init(from decoder: any Decoder) throws {
            guard let decoding = decoder.userInfo[PayloadDecoding.key] as? PayloadDecoding else {
                throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "no payload type given"))
            }
            payload = try decoding.decode(decoder)
        }
    }
}
