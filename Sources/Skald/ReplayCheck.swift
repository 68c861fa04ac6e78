import Foundation

/// The outcome of re-running a recorded history against a (possibly newer) definition.
public struct ReplayReport: Sendable, CustomStringConvertible {
    /// The saga checked.
    public let sagaId: String
    /// How many recorded events matched before the check stopped.
    public let matchedEvents: Int
    /// The first place the definition would have acted differently; nil when it agrees throughout.
    public let divergence: ReplayDivergence?

    /// Whether the definition reproduces the recorded history.
    public var isCompatible: Bool { divergence == nil }

    /// One paragraph for a terminal or a CI log.
    public var description: String {
        guard let divergence else { return "saga \(sagaId): all \(matchedEvents) events replay identically" }
        return "saga \(sagaId): diverges at event \(divergence.sequence): \(divergence.explanation)"
    }
}

/// Where and how a definition parts ways with a recorded history.
public struct ReplayDivergence: Sendable {
    /// The sequence number of the first recorded event that does not match (or that
    /// would have followed, when the new definition emits more).
    public let sequence: Int
    /// The recorded event at that point, if any.
    public let recorded: SagaEvent?
    /// What the new definition would have emitted instead, from that point of the decision.
    public let wouldEmit: [SagaEvent.Kind]
    /// The commands the new definition would have sent for that input.
    public let wouldSend: [OutgoingCommand]
    /// In words.
    public let explanation: String
}

extension SagaDefinition {
    /// Re-runs a recorded history through `decide` and reports the first divergence.
    ///
    /// Each recorded input (start, reply, timer, operator command) is recovered
    /// from the event that records it and fed to this definition with the recorded
    /// time; the events it decides must equal the recorded ones. This is what lets
    /// a team change a saga while instances are in flight: run it over recent
    /// histories before deploying the new version.
    ///
    /// Limits: command payloads and the payloads of ignored inputs are not in the
    /// log, so a change that only alters a command's body is not detected, and two
    /// ignored inputs count as equal whatever the reason given.
    public func replayCheck(sagaId: String, events: [SagaEvent]) -> ReplayReport {
        engine.replayCheck(sagaId: sagaId, events: events)
    }
}

extension EngineDefinition {
    /// See ``SagaDefinition/replayCheck(sagaId:events:)``.
    ///
    /// Each recorded input (start, reply, timer, operator command) is recovered
    /// from the event that records it and fed to this definition with the recorded
    /// time; the events it decides must equal the recorded ones. This is what lets
    /// a team change a saga while instances are in flight: run it over recent
    /// histories before deploying the new version.
    ///
    /// Limits: command payloads and the payloads of ignored inputs are not in the
    /// log, so a change that only alters a command's body is not detected, and two
    /// ignored inputs count as equal whatever the reason given.
    func replayCheck(sagaId: String, events: [SagaEvent]) -> ReplayReport {
        var instance = InstanceCore(sagaId: sagaId)
        var position = 0
        func report(_ sequence: Int, _ recorded: SagaEvent?, _ emit: [SagaEvent.Kind], _ send: [OutgoingCommand], _ why: String)
            -> ReplayReport
        {
            ReplayReport(
                sagaId: sagaId, matchedEvents: position,
                divergence: ReplayDivergence(sequence: sequence, recorded: recorded, wouldEmit: emit, wouldSend: send, explanation: why))
        }

        while position < events.count {
            let event = events[position]
            var decider = Decider(definition: self, instance: instance, now: event.time)
            do {
                if case .started = event.kind {
                    try decider.emit(event.kind)
                    if let deadline = decider.instance.deadline { decider.arm(.deadline, at: deadline) }
                    try decider.continueForward()
                } else if let input = try recoveredInput(from: event, before: instance) {
                    try decider.handle(input)
                } else {
                    return report(
                        event.sequence, event, [], [],
                        "the recorded \(event.kind.typeName) is not the start of a decision: this definition would not have emitted it")
                }
            } catch {
                return report(event.sequence, event, [], [], "this definition cannot process the recorded input: \(error)")
            }
            let decided = decider.decision.events
            if decided.isEmpty {
                return report(
                    event.sequence, event, [], [],
                    "this definition ignores the input recorded as \(event.kind.typeName) and would record nothing")
            }
            for (offset, new) in decided.enumerated() {
                let index = position + offset
                guard index < events.count else {
                    return report(
                        new.sequence, nil, decided[offset...].map(\.kind), decider.decision.commands,
                        "the history ends, but this definition would go on with \(new.kind.typeName)")
                }
                if !Self.sameFact(events[index].kind, new.kind) {
                    return report(
                        events[index].sequence, events[index], decided[offset...].map(\.kind), decider.decision.commands,
                        Self.difference(recorded: events[index].kind, decided: new.kind))
                }
            }
            do {
                for recorded in events[position..<(position + decided.count)] { try apply(recorded, to: &instance) }
            } catch {
                return report(event.sequence, event, [], [], "the recorded events do not fold: \(error)")
            }
            position += decided.count
        }
        return ReplayReport(sagaId: sagaId, matchedEvents: position, divergence: nil)
    }

    /// How a recorded fact and the one this definition decides differ, in words: the types when
    /// they differ, else both facts in full (the same type with another step, attempt or payload).
    static func difference(recorded: SagaEvent.Kind, decided: SagaEvent.Kind) -> String {
        guard recorded.typeName == decided.typeName else {
            return "recorded \(recorded.typeName), this definition would emit \(decided.typeName)"
        }
        func shown(_ kind: SagaEvent.Kind) -> String {
            let text = String(describing: kind)
            return text.count <= 300 ? text : String(text.prefix(300)) + "…"
        }
        return "recorded \(recorded.typeName) differs from what this definition would emit: recorded \(shown(recorded)), would emit \(shown(decided))"
    }

    /// Two recorded facts are the same decision (ignored inputs match whatever the reason).
    static func sameFact(_ lhs: SagaEvent.Kind, _ rhs: SagaEvent.Kind) -> Bool {
        if case .inputIgnored(let leftType, let leftId, _, _, _) = lhs, case .inputIgnored(let rightType, let rightId, _, _, _) = rhs {
            return leftType == rightType && leftId == rightId
        }
        if case .operatorCommandRejected(let leftAction, let leftActor, _, _) = lhs,
            case .operatorCommandRejected(let rightAction, let rightActor, _, _) = rhs
        {
            return leftAction == rightAction && leftActor == rightActor
        }
        return lhs == rhs
    }

    /// The input an event records, given the instance just before it; nil when the
    /// event is a consequence, not an input.
    func recoveredInput(from event: SagaEvent, before instance: InstanceCore) throws -> SagaInput? {
        let empty = Payload(JSONValue.null)
        func commandId(_ step: StepRef, _ purpose: OutgoingCommand.Purpose, _ attempt: Int?) -> String? {
            attempt.map { OutgoingCommand.id(sagaId: instance.sagaId, step: step.name, purpose: purpose, attempt: $0) }
        }
        switch event.kind {
        case .stepSucceeded(let step, let attempt, let reply, let messageId, let payload),
            .stepFailed(let step, let attempt, let reply, let messageId, let payload):
            return .message(
                IncomingMessage(
                    messageType: reply, messageId: messageId, step: step.name,
                    causationId: commandId(step, .action, attempt), payload: payload))
        case .compensationSucceeded(let step, let attempt, let reply, let messageId):
            return .message(
                IncomingMessage(
                    messageType: reply, messageId: messageId, step: step.name,
                    causationId: commandId(step, .compensation, attempt), payload: empty))
        case .compensationFailed(let step, let attempt, let reply):
            guard let reply else { return .timer(.compensationTimeout(step: step.name, attempt: attempt)) }
            return .message(
                IncomingMessage(
                    messageType: reply, messageId: "replay-\(event.sequence)", step: step.name,
                    causationId: commandId(step, .compensation, attempt), payload: empty))
        case .inputIgnored(let messageType, let messageId, let step, let causationId, _):
            return .message(
                IncomingMessage(
                    messageType: messageType, messageId: messageId ?? "replay-\(event.sequence)", step: step,
                    causationId: causationId, payload: empty))
        case .stepTimedOut(let step, let attempt):
            return .timer(.stepTimeout(step: step.name, attempt: attempt))
        case .stepCommandSent(let step, let attempt, _):
            let index = try resolve(step)
            guard instance.steps.indices.contains(index), instance.steps[index].phase == .waitingRetry else { return nil }
            return .timer(.stepRetry(step: step.name, attempt: attempt))
        case .compensationSent(let step, let attempt, _):
            let index = try resolve(step)
            guard instance.steps.indices.contains(index), instance.steps[index].compensation == .waitingRetry else {
                return nil
            }
            return .timer(.compensationRetry(step: step.name, attempt: attempt))
        case .deadlineExceeded:
            return .timer(.deadline)
        case .abortRequested(let actor, let reason):
            return .operatorCommand(OperatorCommand(.abort, actor: actor, reason: reason))
        case .retryRequested(_, _, let actor):
            return .operatorCommand(OperatorCommand(.retry, actor: actor))
        case .stepSkippedByOperator(let step, let actor), .compensationSkippedByOperator(let step, let actor):
            return .operatorCommand(OperatorCommand(.skip, actor: actor, step: step.name))
        case .operatorCommandRejected(let action, let actor, let step, _):
            return .operatorCommand(OperatorCommand(action, actor: actor, step: step))
        default:
            return nil
        }
    }
}
