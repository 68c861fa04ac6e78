import Foundation

extension SagaDefinition {
    /// The instance after one more event: `evolve(state, event) -> state`.
    ///
    /// Pure and total over well-formed logs; a log that does not fit the
    /// definition (unknown step, payload of the wrong type) is an error, never a crash.
    public func evolve(_ instance: SagaInstance<State>, _ event: SagaEvent) throws -> SagaInstance<State> {
        var copy = instance
        try engine.apply(event, to: &copy.core)
        return copy
    }

    /// Folds events into a fresh instance: replay.
    public func fold(sagaId: String, events: some Sequence<SagaEvent>) throws -> SagaInstance<State> {
        var instance = InstanceCore(sagaId: sagaId)
        for event in events { try engine.apply(event, to: &instance) }
        return SagaInstance(core: instance)
    }

    /// The instance as it was right after event `sequence`: time travel.
    public func state(sagaId: String, events: some Sequence<SagaEvent>, at sequence: Int) throws -> SagaInstance<State> {
        var instance = InstanceCore(sagaId: sagaId)
        for event in events where event.sequence <= sequence { try engine.apply(event, to: &instance) }
        return SagaInstance(core: instance)
    }

    /// Applies one event in place (the allocation-free form of ``evolve(_:_:)``).
    public func apply(_ event: SagaEvent, to instance: inout SagaInstance<State>) throws {
        try engine.apply(event, to: &instance.core)
    }
}

extension EngineDefinition {
    func apply(_ event: SagaEvent, to instance: inout InstanceCore) throws {
        guard event.sequence == instance.lastSequence + 1 else {
            throw SagaError(
                .badSequence,
                "\(name) saga \(instance.sagaId): event \(event.sequence) follows \(instance.lastSequence)")
        }
        if instance.status == .notStarted {
            guard case .started = event.kind else {
                throw SagaError(.badSequence, "\(name) saga \(instance.sagaId): the first event must be saga.started")
            }
        }
        instance.lastSequence = event.sequence
        instance.updatedAt = event.time

        switch event.kind {
        case .started(_, let state, let deadline):
            do {
                instance.data = try decodeState(state)
            } catch {
                throw SagaError(.payloadTypeMismatch, "\(name): the recorded start state does not decode: \(error)")
            }
            instance.status = .running
            instance.startedAt = event.time
            instance.deadline = deadline
            instance.steps = Array(repeating: StepProgress(), count: steps.count)
            instance.completionOrder.reserveCapacity(steps.count)

        case .stepCommandSent(let ref, let attempt, _):
            let index = try resolve(ref)
            instance.steps[index].phase = .running
            instance.steps[index].attempt = attempt
            instance.steps[index].commandSentAt = event.time

        case .stepSucceeded(let ref, _, let reply, _, let payload):
            let index = try resolve(ref)
            try applyReply(steps[index].successReply(reply), payload, index: index, to: &instance)
            let wasStuckHere = instance.stuck?.step == index && instance.stuck?.compensating == false
            instance.steps[index].phase = .succeeded
            if !instance.completionOrder.contains(index) { instance.completionOrder.append(index) }
            if steps[index].kind == .pivot { instance.pivotPassed = true }
            if wasStuckHere {
                instance.stuck = nil
                instance.status = .running
            }
            advanceNode(&instance)

        case .stepFailed(let ref, _, let reply, _, let payload):
            let index = try resolve(ref)
            try applyReply(steps[index].failureReply(reply), payload, index: index, to: &instance)
            instance.steps[index].phase = .failed
            if instance.status == .compensating { noteUnknownOutcome(index, &instance) }

        case .stepTimedOut(let ref, _):
            let index = try resolve(ref)
            instance.steps[index].phase = .timedOut
            instance.steps[index].outcomeUnknown = true
            if instance.status == .compensating { noteUnknownOutcome(index, &instance) }

        case .stepRetryScheduled(let ref, _, _):
            instance.steps[try resolve(ref)].phase = .waitingRetry

        case .stepSkipped(let ref, _):
            instance.steps[try resolve(ref)].phase = .skipped
            advanceNode(&instance)

        case .stepSkippedByOperator(let ref, _):
            let index = try resolve(ref)
            instance.steps[index].phase = .skippedByOperator
            if steps[index].kind == .pivot { instance.pivotPassed = true }
            if instance.stuck?.step == index {
                instance.stuck = nil
                instance.status = .running
            }
            advanceNode(&instance)

        case .compensationStarted(let reason, _):
            instance.status = .compensating
            instance.compensationReason = reason
            instance.stuck = nil
            for index in instance.steps.indices {
                if instance.steps[index].phase == .waitingRetry {
                    instance.steps[index].phase = instance.steps[index].outcomeUnknown ? .timedOut : .failed
                }
                if instance.steps[index].phase != .running { noteUnknownOutcome(index, &instance) }
            }

        case .compensationSent(let ref, let attempt, _):
            let index = try resolve(ref)
            instance.steps[index].compensation = .running
            instance.steps[index].compensationAttempt = attempt

        case .compensationSucceeded(let ref, _, _, _):
            let index = try resolve(ref)
            instance.steps[index].compensation = .done
            if instance.stuck?.step == index {
                instance.stuck = nil
                instance.status = .compensating
            }

        case .compensationFailed(let ref, _, _):
            instance.steps[try resolve(ref)].compensation = .failed

        case .compensationRetryScheduled(let ref, _, _):
            instance.steps[try resolve(ref)].compensation = .waitingRetry

        case .compensationSkippedByOperator(let ref, _):
            let index = try resolve(ref)
            instance.steps[index].compensation = .skippedByOperator
            if instance.stuck?.step == index {
                instance.stuck = nil
                instance.status = .compensating
            }

        case .completed:
            instance.status = .completed

        case .compensated:
            instance.status = .compensated

        case .failedNeedsOperator(let ref, let compensating, let reason):
            instance.status = .failedNeedsOperator
            instance.stuck = StuckStep(step: try resolve(ref), compensating: compensating, reason: reason)

        case .retryRequested(let ref, let compensating, _):
            let index = try resolve(ref)
            instance.stuck = nil
            if compensating {
                instance.status = .compensating
                instance.steps[index].compensationBudgetStart = instance.steps[index].compensationAttempt
            } else {
                instance.status = .running
                instance.steps[index].budgetStart = instance.steps[index].attempt
            }

        case .deadlineExceeded:
            instance.deadlineExceeded = true

        case .abortRequested, .operatorCommandRejected, .inputIgnored:
            break
        }
    }

    /// Resolves a step reference, using the cached index when it is right.
    func resolve(_ ref: StepRef) throws -> Int {
        if ref.index >= 0, ref.index < steps.count, steps[ref.index].name == ref.name { return ref.index }
        if let index = stepIndex[ref.name] { return index }
        throw SagaError(.unknownStep, "\(name) v\(version) has no step '\(ref.name)'")
    }

    private func applyReply(
        _ reply: ReplySpec?, _ payload: Payload, index: Int, to instance: inout InstanceCore
    ) throws {
        guard let reply, var data = instance.data else { return }
        guard let apply = reply.apply else {
            // A reply without an update leaves the state, and so its kept encoding, alone; its
            // payload must still be of the reply's type, as a stored log folded later is checked.
            guard reply.accepts(payload) else {
                throw SagaError(
                    .payloadTypeMismatch,
                    "\(name) step '\(steps[index].name)': the \(reply.messageType) payload does not decode as that reply")
            }
            return
        }
        // Moved out, so the state's box can be updated in place when this instance owns it.
        instance.data = nil
        defer { instance.data = data }
        do {
            try apply(&data, payload)
        } catch {
            throw SagaError(
                .payloadTypeMismatch,
                "\(name) step '\(steps[index].name)': the \(reply.messageType) payload does not decode: \(error)")
        }
    }

    /// Records that a step may have taken effect, once, in the order it became known.
    private func noteUnknownOutcome(_ index: Int, _ instance: inout InstanceCore) {
        let progress = instance.steps[index]
        let mayHaveEffect = progress.phase == .succeeded || progress.outcomeUnknown
        if mayHaveEffect && !instance.completionOrder.contains(index) { instance.completionOrder.append(index) }
    }

    /// Moves past every node whose steps are all settled.
    private func advanceNode(_ instance: inout InstanceCore) {
        guard instance.status == .running || instance.status == .failedNeedsOperator else { return }
        while instance.currentNode < nodes.count {
            let node = nodes[instance.currentNode]
            for index in node.steps where !instance.steps[index].isSettledForward { return }
            instance.currentNode += 1
        }
    }
}
