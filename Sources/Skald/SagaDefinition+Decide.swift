public import Foundation

extension SagaDefinition {
    /// `decide(state, input, now) -> (events, commands, timers)`: the pure state machine.
    ///
    /// Nothing here reads a clock, a random source or the network: `now` is
    /// passed in (and truncated to microseconds), ids are derived from the saga
    /// id, step, purpose and attempt. The returned instance equals folding the
    /// returned events into `instance`.
    ///
    /// Throws only when the instance does not fit this definition or a start
    /// message has no trigger; odd real-world input (duplicates, late or unknown
    /// replies) becomes a recorded `saga.input-ignored` event instead.
    public func decide(_ instance: SagaInstance<State>, _ input: SagaInput, now: Date) throws -> Decision<State> {
        Decision(try engine.decide(instance.core, input, now: now))
    }
}

extension SagaDefinition {
    /// `decide` and `evolve` in one step, in place: the fast path for a runtime that
    /// owns the instance.
    ///
    /// Equivalent to `let d = try decide(instance, input, now: now); instance = d.instance`,
    /// but the instance is moved into the engine and back rather than copied, so its
    /// arrays are never duplicated. If it throws, `instance` may hold part of the
    /// decision: discard it and load the instance again from its events.
    public func transition(
        _ instance: inout SagaInstance<State>, _ input: SagaInput, now: Date
    ) throws -> Transition {
        var decider = Decider(definition: engine, instance: InstanceCore(sagaId: instance.sagaId), now: Timestamp.truncate(now))
        swap(&decider.decision.instance, &instance.core)
        defer { swap(&decider.decision.instance, &instance.core) }
        try decider.handle(input)
        return Transition(
            events: decider.decision.events, commands: decider.decision.commands, timers: decider.decision.timers,
            cancelledTimers: decider.decision.cancelledTimers)
    }
}

extension SagaDefinition {
    /// ``transition(_:_:now:)`` writing into a buffer the caller reuses: its arrays
    /// are emptied and refilled, keeping their capacity, so a runtime that handles
    /// a batch of inputs allocates them once, not once per input.
    @inlinable
    public func transition(
        _ instance: inout SagaInstance<State>, _ input: SagaInput, now: Date, into output: inout Transition
    ) throws {
        // Inlinable, so the caller's specialization reaches the instance's fields
        // directly instead of through generic metadata and a temporary copy.
        try engine.transition(&instance.core, input, now: now, into: &output)
    }
}

extension EngineDefinition {
    /// The body of ``SagaDefinition/transition(_:_:now:into:)``, outside the generic
    /// type so that no metadata is looked up per input.
    @usableFromInline
    func transition(_ instance: inout InstanceCore, _ input: SagaInput, now: Date, into output: inout Transition) throws {
        var decider = Decider(definition: self, instance: InstanceCore(sagaId: instance.sagaId), now: Timestamp.truncate(now))
        // One or two elements each: `removeLast()` is far cheaper than the generic
        // `replaceSubrange` behind `removeAll(keepingCapacity:)`, and keeps the capacity too.
        while !output.events.isEmpty { output.events.removeLast() }
        while !output.commands.isEmpty { output.commands.removeLast() }
        while !output.timers.isEmpty { output.timers.removeLast() }
        while !output.cancelledTimers.isEmpty { output.cancelledTimers.removeLast() }
        swap(&decider.decision.events, &output.events)
        swap(&decider.decision.commands, &output.commands)
        swap(&decider.decision.timers, &output.timers)
        swap(&decider.decision.cancelledTimers, &output.cancelledTimers)
        swap(&decider.decision.instance, &instance)
        defer {
            swap(&decider.decision.instance, &instance)
            swap(&decider.decision.events, &output.events)
            swap(&decider.decision.commands, &output.commands)
            swap(&decider.decision.timers, &output.timers)
            swap(&decider.decision.cancelledTimers, &output.cancelledTimers)
        }
        try decider.handle(input)
    }
}

/// What one input produced, for ``SagaDefinition/transition(_:_:now:)``: a
/// ``Decision`` without the instance (which was updated in place).
public struct Transition: Sendable {
    /// An empty buffer for ``SagaDefinition/transition(_:_:now:into:)``.
    public init() {
        self.init(events: [], commands: [], timers: [], cancelledTimers: [])
    }

    init(events: [SagaEvent], commands: [OutgoingCommand], timers: [TimerRequest], cancelledTimers: [TimerKind]) {
        self.events = events
        self.commands = commands
        self.timers = timers
        self.cancelledTimers = cancelledTimers
    }

    /// New events, numbered after the instance's last sequence.
    public var events: [SagaEvent]
    /// Commands for the outbox.
    public var commands: [OutgoingCommand]
    /// Timers to arm.
    public var timers: [TimerRequest]
    /// Timers no longer needed.
    public var cancelledTimers: [TimerKind]
}

extension EngineDefinition {
    /// The step, purpose and attempt of a command id of saga `sagaId`; nil when the
    /// id is not one of this saga's (another saga's, or not a command id at all).
    func matchCommandId(_ id: String, sagaId: String) -> (step: Int?, purpose: OutgoingCommand.Purpose, attempt: Int)? {
        var id = id
        var sagaId = sagaId
        return id.withUTF8 { bytes -> (step: Int?, purpose: OutgoingCommand.Purpose, attempt: Int)? in
            guard let found = OutgoingCommand.locate(bytes) else { return nil }
            let sameSaga = sagaId.withUTF8 { saga in
                saga.count == found.sagaIdEnd && (saga.count == 0 || memcmp(saga.baseAddress!, bytes.baseAddress!, saga.count) == 0)
            }
            guard sameSaga else { return nil }
            let stepStart = found.sagaIdEnd + 1
            let stepLength = found.stepEnd - stepStart
            for (index, step) in steps.enumerated() where step.nameBytes.count == stepLength {
                let same = step.nameBytes.withUnsafeBufferPointer { name in
                    stepLength == 0 || memcmp(name.baseAddress!, bytes.baseAddress! + stepStart, stepLength) == 0
                }
                if same { return (index, found.purpose, found.attempt) }
            }
            return (nil, found.purpose, found.attempt)
        }
    }


    func decide(_ instance: InstanceCore, _ input: SagaInput, now: Date) throws -> EngineDecision {
        var decider = Decider(definition: self, instance: instance, now: Timestamp.truncate(now))
        try decider.handle(input)
        return decider.decision
    }
}

/// What one `decide` call produced, before it is typed again for the caller.
struct EngineDecision: Sendable {
    var events: [SagaEvent] = []
    var commands: [OutgoingCommand] = []
    var timers: [TimerRequest] = []
    var cancelledTimers: [TimerKind] = []
    var instance: InstanceCore
}

/// The working memory of one `decide` call: events are applied as they are
/// emitted so each later choice sees the state they produce.
struct Decider {
    /// A reference: one retain per input, not one per field of the definition.
    let definition: EngineDefinition
    let now: Date
    var decision: EngineDecision
    var causationId: String?

    init(definition: EngineDefinition, instance: InstanceCore, now: Date) {
        self.definition = definition
        self.now = now
        self.decision = EngineDecision(instance: instance)
        // Most inputs emit two events (an answer and the next command, a start and its first
        // command); room for four spares the array's growth from one to two.
        decision.events.reserveCapacity(4)
    }

    var instance: InstanceCore {
        _read { yield decision.instance }
    }
    var sagaId: String { decision.instance.sagaId }

    mutating func handle(_ input: SagaInput) throws {
        switch input {
        case .start(let message):
            causationId = message.messageId
            try start(message)
        case .message(let message):
            causationId = message.messageId
            try receive(message)
        case .timer(let kind):
            causationId = kind.id(sagaId: sagaId)
            try timerFired(kind)
        case .operatorCommand(let command):
            causationId = "operator:\(command.actor)"
            try operatorCommand(command)
        }
    }

    // MARK: Emitting

    mutating func emit(_ kind: consuming SagaEvent.Kind) throws {
        // Consumed and moved along: the event is built once, never copied.
        let event = SagaEvent(sequence: decision.instance.lastSequence + 1, time: now, kind: kind)
        try definition.apply(event, to: &decision.instance)
        decision.events.append(consume event)
    }

    mutating func ignore(
        _ messageType: String, _ messageId: String?, step: String?, causationId: String? = nil, _ reason: String
    ) throws {
        try emit(
            .inputIgnored(messageType: messageType, messageId: messageId, step: step, causationId: causationId, reason: reason))
    }

    func ref(_ index: Int) -> StepRef {
        StepRef(name: definition.steps[index].name, index: index)
    }

    mutating func cancelTimer(_ kind: TimerKind) {
        decision.cancelledTimers.append(kind)
    }

    mutating func arm(_ kind: TimerKind, after duration: Duration) {
        decision.timers.append(TimerRequest(sagaId: sagaId, due: now.adding(duration), kind: kind))
    }

    mutating func arm(_ kind: TimerKind, at due: Date) {
        decision.timers.append(TimerRequest(sagaId: sagaId, due: due, kind: kind))
    }

    // MARK: Start

    mutating func start(_ message: StartMessage) throws {
        guard instance.status == .notStarted else {
            return try ignore(message.messageType, message.messageId, step: nil, "the saga has already started")
        }
        guard let trigger = definition.startTriggers.first(where: { $0.messageType == message.messageType }) else {
            throw SagaError(.unknownStartMessage, "\(definition.name) is not started by '\(message.messageType)'")
        }
        let state: Payload
        do {
            state = try trigger.makeState(message.payload)
        } catch {
            throw SagaError(.payloadTypeMismatch, "\(definition.name): the start message does not decode: \(error)")
        }
        let deadline = definition.deadline.map { now.adding($0) }
        try emit(.started(trigger: message.messageType, state: state, deadline: deadline))
        if let deadline { arm(.deadline, at: deadline) }
        try continueForward()
    }

    // MARK: Forward

    /// Starts the next node, completes the saga, or surfaces a stuck branch.
    mutating func continueForward() throws {
        while instance.status == .running {
            guard instance.currentNode < definition.nodes.count else {
                try emit(.completed)
                if instance.deadline != nil { cancelTimer(.deadline) }
                return
            }
            let nodeSteps = definition.nodes[instance.currentNode].steps
            var allPending = true
            for index in nodeSteps where instance.steps[index].phase != .pending {
                allPending = false
                let phase = instance.steps[index].phase
                if phase == .failed || phase == .timedOut {
                    return try needsOperator(index, reason: exhaustedReason(index))
                }
            }
            guard allPending else { return }
            guard let data = instance.data else { return }
            for index in nodeSteps {
                if let condition = definition.steps[index].condition, !condition(data) {
                    try emit(.stepSkipped(step: ref(index), reason: .condition))
                } else {
                    try sendStep(index, attempt: 1)
                }
            }
        }
    }

    mutating func sendStep(_ index: Int, attempt: Int) throws {
        let step = definition.steps[index]
        guard let command = step.command, let data = instance.data, let payload = command.make(data) else {
            throw SagaError(.unknownStep, "\(definition.name) step '\(step.name)' has no command for this state")
        }
        let id = OutgoingCommand.id(sagaId: sagaId, step: step.name, purpose: .action, attempt: attempt)
        try emit(.stepCommandSent(step: ref(index), attempt: attempt, commandId: id))
        decision.commands.append(
            OutgoingCommand(
                id: id, topic: command.topic, key: sagaId, messageType: command.messageType, sagaType: definition.name,
                step: step.name, purpose: .action, attempt: attempt, causationId: causationId,
                payload: payload))
        decision.timers.append(
            TimerRequest(
                sagaId: sagaId, due: now.adding(microseconds: step.timeoutMicroseconds),
                kind: .stepTimeout(step: step.name, attempt: attempt)))
    }

    func exhaustedReason(_ index: Int) -> String {
        let step = definition.steps[index]
        let progress = instance.steps[index]
        let attempts = progress.attempt - progress.budgetStart
        if step.kind == .pivot && progress.phase == .timedOut {
            return "the pivot's outcome is unknown after \(attempts) unanswered attempt(s)"
        }
        if step.kind == .pivot && progress.outcomeUnknown {
            return "the pivot failed, but an earlier unanswered attempt may have succeeded"
        }
        return progress.phase == .timedOut
            ? "no reply after \(attempts) attempt(s)" : "still failing after \(attempts) attempt(s)"
    }

    mutating func needsOperator(_ index: Int, reason: String) throws {
        guard instance.status != .failedNeedsOperator else { return }
        try emit(.failedNeedsOperator(step: ref(index), compensating: false, reason: reason))
    }

    /// After a failure or timeout of a forward step while running: retry, compensate, or ask for help.
    mutating func afterForwardFailure(_ index: Int, retryable: Bool, timedOut: Bool) throws {
        let step = definition.steps[index]
        let progress = instance.steps[index]
        let policy = step.effectiveRetry
        if retryable && progress.attempt - progress.budgetStart < policy.maxAttempts {
            let next = progress.attempt + 1
            let delay = policy.delay(beforeAttempt: next - progress.budgetStart, sagaId: sagaId, step: step.name)
            try emit(.stepRetryScheduled(step: ref(index), attempt: next, due: now.adding(delay)))
            arm(.stepRetry(step: step.name, attempt: next), after: delay)
            return
        }
        switch step.kind {
        case .compensatable:
            try beginCompensation(timedOut ? .stepTimedOut : .stepFailed, step: index)
        case .pivot where !timedOut && !progress.outcomeUnknown:
            // A clean failure of the pivot: nothing committed, undo what came before.
            try beginCompensation(.stepFailed, step: index)
        case .pivot, .retriable:
            try needsOperator(index, reason: exhaustedReason(index))
        }
    }

    // MARK: Replies

    mutating func receive(_ message: IncomingMessage) throws {
        guard instance.status != .notStarted else {
            return try ignore(
                message.messageType, message.messageId, step: message.step, causationId: message.causationId,
                "the saga has not started")
        }
        guard !instance.status.isFinal else {
            return try ignore(
                message.messageType, message.messageId, step: message.step, causationId: message.causationId,
                "the saga is already \(instance.status.rawValue)")
        }
        var index: Int?
        var purpose: OutgoingCommand.Purpose?
        var attempt: Int?
        if let causation = message.causationId, let parsed = definition.matchCommandId(causation, sagaId: sagaId) {
            index = parsed.step
            purpose = parsed.purpose
            attempt = parsed.attempt
        } else if let stepName = message.step {
            index = definition.stepIndex(named: stepName)
        } else {
            index = findStep(expecting: message.messageType)
        }
        guard let index else {
            return try ignore(
                message.messageType, message.messageId, step: message.step, causationId: message.causationId,
                "no step of this saga expects this message")
        }
        let step = definition.steps[index]
        if purpose == nil {
            let isAction = step.successReply(message.messageType) != nil || step.failureReply(message.messageType) != nil
            let compensation = step.compensation
            let isCompensation =
                compensation.map {
                    $0.confirmations.contains(message.messageType) || $0.rejections.contains(message.messageType)
                } ?? false
            purpose = isCompensation && (!isAction || instance.steps[index].compensation != .none) ? .compensation : .action
        }
        if purpose == .compensation {
            try compensationReply(index, attempt: attempt, message)
        } else {
            try actionReply(index, attempt: attempt, message)
        }
    }

    /// For messages without saga headers: the step that expects this type, preferring one in flight.
    func findStep(expecting messageType: String) -> Int? {
        var fallback: Int?
        for (index, step) in definition.steps.enumerated() {
            let progress = instance.steps[index]
            if step.successReply(messageType) != nil || step.failureReply(messageType) != nil {
                if progress.phase == .running || progress.phase == .waitingRetry { return index }
                if fallback == nil { fallback = index }
            }
            if let compensation = step.compensation,
                compensation.confirmations.contains(messageType) || compensation.rejections.contains(messageType)
            {
                if progress.compensation == .running || progress.compensation == .waitingRetry { return index }
                if fallback == nil { fallback = index }
            }
        }
        return fallback
    }

    mutating func actionReply(_ index: Int, attempt: Int?, _ message: IncomingMessage) throws {
        let step = definition.steps[index]
        let progress = instance.steps[index]
        let type = message.messageType
        func skip(_ reason: String) throws {
            try ignore(type, message.messageId, step: message.step ?? step.name, causationId: message.causationId, reason)
        }

        let success = step.successReply(type)
        let failure = step.failureReply(type)
        guard let reply = success ?? failure else { return try skip("'\(type)' is not a reply of this step") }
        guard reply.accepts(message.payload) else { return try skip("the payload is not a valid '\(type)'") }
        if let attempt, attempt > progress.attempt || attempt < 1 {
            return try skip("reply to attempt \(attempt), which was never sent")
        }
        let stuckHere = instance.status == .failedNeedsOperator && instance.stuck?.step == index
            && instance.stuck?.compensating == false

        if success != nil {
            switch progress.phase {
            case .running, .waitingRetry, .timedOut, .failed:
                if progress.phase == .failed && !progress.outcomeUnknown && !stuckHere {
                    return try skip("the step already failed; a later success is contradictory")
                }
                if step.kind == .pivot && instance.compensationReason != nil {
                    return try skip("the pivot succeeded after compensation began (operator abort): reconcile by hand")
                }
                try emit(
                    .stepSucceeded(
                        step: ref(index), attempt: attempt, reply: type, messageId: message.messageId,
                        payload: message.payload))
                if progress.phase == .running { cancelTimer(.stepTimeout(step: step.name, attempt: progress.attempt)) }
                try resume()
            case .succeeded:
                try skip("duplicate: the step already succeeded")
            case .pending:
                try skip("the step has not been started")
            case .skipped, .skippedByOperator:
                try skip("the step was skipped")
            }
            return
        }

        // A failure reply.
        switch progress.phase {
        case .running, .waitingRetry:
            if let attempt, attempt < progress.attempt {
                return try skip("failure of attempt \(attempt); attempt \(progress.attempt) is the live one")
            }
            try emit(
                .stepFailed(
                    step: ref(index), attempt: attempt, reply: type, messageId: message.messageId, payload: message.payload))
            if progress.phase == .running { cancelTimer(.stepTimeout(step: step.name, attempt: progress.attempt)) }
            switch instance.status {
            case .running:
                try afterForwardFailure(index, retryable: reply.retryable || step.kind == .retriable, timedOut: false)
            case .compensating:
                try continueCompensation()
            default:
                break
            }
        case .succeeded:
            try skip("the step already succeeded; a later failure is ignored")
        case .failed, .timedOut:
            try skip("the step's outcome was already settled")
        case .pending:
            try skip("the step has not been started")
        case .skipped, .skippedByOperator:
            try skip("the step was skipped")
        }
    }

    /// Carries on after a step settled, in whatever direction the saga is going.
    mutating func resume() throws {
        switch instance.status {
        case .running: try continueForward()
        case .compensating: try continueCompensation()
        default: break
        }
    }

    // MARK: Compensation

    mutating func beginCompensation(_ reason: SagaEvent.CompensationReason, step: Int?) throws {
        try emit(.compensationStarted(reason: reason, step: step.map(ref)))
        try continueCompensation()
    }

    /// Sends the next compensation in reverse order of completion, once no step is in flight.
    mutating func continueCompensation() throws {
        guard instance.status == .compensating else { return }
        for progress in instance.steps {
            if progress.phase == .running { return }
            switch progress.compensation {
            case .running, .waitingRetry, .failed: return
            case .none, .done, .skippedByOperator: break
            }
        }
        for index in instance.completionOrder.reversed()
        where definition.steps[index].kind == .compensatable && instance.steps[index].compensation == .none
            && instance.steps[index].phase != .skippedByOperator
        {
            return try sendCompensation(index, attempt: instance.steps[index].compensationAttempt + 1)
        }
        try emit(.compensated)
        if instance.deadline != nil { cancelTimer(.deadline) }
    }

    mutating func sendCompensation(_ index: Int, attempt: Int) throws {
        let step = definition.steps[index]
        guard let compensation = step.compensation, let data = instance.data,
            let payload = compensation.command.make(data)
        else {
            throw SagaError(.unknownStep, "\(definition.name) step '\(step.name)' has no compensation for this state")
        }
        let id = OutgoingCommand.id(sagaId: sagaId, step: step.name, purpose: .compensation, attempt: attempt)
        try emit(.compensationSent(step: ref(index), attempt: attempt, commandId: id))
        decision.commands.append(
            OutgoingCommand(
                id: id, topic: compensation.command.topic, key: sagaId, messageType: compensation.command.messageType,
                sagaType: definition.name, step: step.name, purpose: .compensation, attempt: attempt,
                causationId: causationId, payload: payload))
        arm(.compensationTimeout(step: step.name, attempt: attempt), after: definition.compensationTimeout)
    }

    mutating func afterCompensationFailure(_ index: Int) throws {
        let step = definition.steps[index]
        let progress = instance.steps[index]
        let policy = definition.compensationRetry
        let used = progress.compensationAttempt - progress.compensationBudgetStart
        if used < policy.maxAttempts {
            let next = progress.compensationAttempt + 1
            let delay = policy.delay(
                beforeAttempt: next - progress.compensationBudgetStart, sagaId: sagaId, step: "\(step.name)#compensation")
            try emit(.compensationRetryScheduled(step: ref(index), attempt: next, due: now.adding(delay)))
            arm(.compensationRetry(step: step.name, attempt: next), after: delay)
        } else {
            try emit(
                .failedNeedsOperator(
                    step: ref(index), compensating: true, reason: "compensation still failing after \(used) attempt(s)"))
        }
    }

    mutating func compensationReply(_ index: Int, attempt: Int?, _ message: IncomingMessage) throws {
        let step = definition.steps[index]
        let progress = instance.steps[index]
        let type = message.messageType
        func skip(_ reason: String) throws {
            try ignore(type, message.messageId, step: message.step ?? step.name, causationId: message.causationId, reason)
        }

        guard let compensation = step.compensation else { return try skip("the step has no compensation") }
        let confirms = compensation.confirmations.contains(type)
        guard confirms || compensation.rejections.contains(type) else {
            return try skip("'\(type)' is not a reply of the compensation")
        }
        if let attempt, attempt > progress.compensationAttempt || attempt < 1 {
            return try skip("reply to compensation attempt \(attempt), which was never sent")
        }
        let stuckHere = instance.status == .failedNeedsOperator && instance.stuck?.step == index
            && instance.stuck?.compensating == true

        if confirms {
            switch progress.compensation {
            case .running, .waitingRetry, .failed:
                guard instance.status == .compensating || stuckHere else {
                    return try skip("the compensation is not active")
                }
                try emit(
                    .compensationSucceeded(step: ref(index), attempt: attempt, reply: type, messageId: message.messageId))
                if progress.compensation == .running {
                    cancelTimer(.compensationTimeout(step: step.name, attempt: progress.compensationAttempt))
                }
                try continueCompensation()
            case .done:
                try skip("duplicate: the compensation already succeeded")
            case .skippedByOperator:
                try skip("the compensation was skipped by an operator")
            case .none:
                try skip("the compensation has not been started")
            }
            return
        }

        guard progress.compensation == .running, instance.status == .compensating,
            attempt == nil || attempt == progress.compensationAttempt
        else { return try skip("a rejection for a compensation attempt that is not in flight") }
        try emit(.compensationFailed(step: ref(index), attempt: progress.compensationAttempt, reply: type))
        cancelTimer(.compensationTimeout(step: step.name, attempt: progress.compensationAttempt))
        try afterCompensationFailure(index)
    }

    // MARK: Timers

    mutating func timerFired(_ kind: TimerKind) throws {
        guard instance.status != .notStarted, !instance.status.isFinal else { return }
        if case .deadline = kind { return try deadlinePassed() }
        guard let name = kind.step, let index = definition.stepIndex(named: name), let attempt = kind.attempt else {
            return
        }
        let progress = instance.steps[index]
        switch kind {
        case .stepTimeout:
            guard progress.phase == .running, progress.attempt == attempt else { return }
            try emit(.stepTimedOut(step: ref(index), attempt: attempt))
            switch instance.status {
            case .compensating: try continueCompensation()
            case .running, .failedNeedsOperator: try afterForwardFailure(index, retryable: true, timedOut: true)
            default: break
            }
        case .stepRetry:
            guard progress.phase == .waitingRetry, progress.attempt + 1 == attempt,
                instance.status == .running || instance.status == .failedNeedsOperator
            else { return }
            try sendStep(index, attempt: attempt)
        case .compensationTimeout:
            guard progress.compensation == .running, progress.compensationAttempt == attempt,
                instance.status == .compensating
            else { return }
            try emit(.compensationFailed(step: ref(index), attempt: attempt, reply: nil))
            try afterCompensationFailure(index)
        case .compensationRetry:
            guard progress.compensation == .waitingRetry, progress.compensationAttempt + 1 == attempt,
                instance.status == .compensating
            else { return }
            try sendCompensation(index, attempt: attempt)
        case .deadline:
            break
        }
    }

    /// Whether the pivot is in flight or its outcome unknown: compensating now could undo
    /// work the pivot already committed to.
    var pivotUndecided: Bool {
        for (index, step) in definition.steps.enumerated() where step.kind == .pivot {
            let phase = instance.steps[index].phase
            return phase == .running || phase == .waitingRetry || phase == .timedOut
        }
        return false
    }

    mutating func deadlinePassed() throws {
        guard !instance.deadlineExceeded, instance.status == .running || instance.status == .failedNeedsOperator else {
            return
        }
        try emit(.deadlineExceeded)
        if instance.status == .running && !instance.pivotPassed && !pivotUndecided {
            try beginCompensation(.deadlineExceeded, step: nil)
        }
    }

    // MARK: Operators

    mutating func operatorCommand(_ command: OperatorCommand) throws {
        func reject(_ reason: String) throws {
            try emit(.operatorCommandRejected(action: command.action, actor: command.actor, step: command.step, reason: reason))
        }
        let status = instance.status
        guard status != .notStarted, !status.isFinal else { return try reject("the saga is \(status.rawValue)") }
        switch command.action {
        case .abort:
            if status == .compensating { return try reject("the saga is already compensating") }
            if instance.pivotPassed { return try reject("the pivot succeeded: nothing before it can be undone") }
            if let stuck = instance.stuck, stuck.compensating { return try reject("a compensation is stuck; retry or skip it") }
            let stuckOnPivot = instance.stuck.map { definition.steps[$0.step].kind == .pivot } ?? false
            if pivotUndecided && !stuckOnPivot {
                return try reject("the pivot is in flight; abort once its outcome is known")
            }
            try emit(.abortRequested(actor: command.actor, reason: command.reason))
            try beginCompensation(.aborted, step: nil)

        case .retry:
            guard status == .failedNeedsOperator, let stuck = instance.stuck else {
                return try reject("nothing is stuck: the saga is \(status.rawValue)")
            }
            try emit(.retryRequested(step: ref(stuck.step), compensating: stuck.compensating, actor: command.actor))
            if stuck.compensating {
                try sendCompensation(stuck.step, attempt: instance.steps[stuck.step].compensationAttempt + 1)
            } else {
                try sendStep(stuck.step, attempt: instance.steps[stuck.step].attempt + 1)
            }

        case .skip:
            guard let target = command.step.flatMap(definition.stepIndex(named:)) ?? instance.stuck?.step else {
                return try reject(command.step.map { "no step named '\($0)'" } ?? "name the step to skip")
            }
            let progress = instance.steps[target]
            if let stuck = instance.stuck, stuck.compensating {
                guard stuck.step == target else { return try reject("only the stuck compensation can be skipped") }
                try emit(.compensationSkippedByOperator(step: ref(target), actor: command.actor))
                return try continueCompensation()
            }
            guard status == .running || status == .failedNeedsOperator,
                definition.steps[target].node == instance.currentNode,
                [.running, .waitingRetry, .failed, .timedOut].contains(progress.phase)
            else { return try reject("step '\(definition.steps[target].name)' is not in progress") }
            try emit(.stepSkippedByOperator(step: ref(target), actor: command.actor))
            if progress.phase == .running { cancelTimer(.stepTimeout(step: definition.steps[target].name, attempt: progress.attempt)) }
            try continueForward()
        }
    }
}
