import Foundation
import Skald
import SkaldTestSupport
import Testing

/// Drives one random history against one definition and checks the invariants.
struct Simulation {
    let definition: SagaDefinition<PState>
    let seed: UInt64
    var random: SplitMix64
    var instance: SagaInstance<PState>
    var events: [SagaEvent] = []
    var pending: [IncomingMessage] = []
    var delivered: [IncomingMessage] = []
    var armed: [String: TimerRequest] = [:]
    var commandIds: Set<String> = []
    var compensationCommands: [String] = []
    var now = Date(timeIntervalSince1970: 1_900_000_000)
    var settling = false
    var failures: [String] = []
    var counter = 0
    let checkDeterminism: Bool

    init(definition: SagaDefinition<PState>, seed: UInt64) {
        self.definition = definition
        self.seed = seed
        self.random = SplitMix64(seed: seed)
        self.instance = SagaInstance(sagaId: "saga-\(seed)")
        self.checkDeterminism = seed % 3 == 0
    }

    mutating func fail(_ message: String) {
        failures.append("seed \(seed): \(message)")
    }

    mutating func decide(_ input: SagaInput) {
        let decision: Decision<PState>
        do {
            decision = try definition.decide(instance, input, now: now)
        } catch {
            fail("decide threw \(error)")
            return
        }
        if checkDeterminism, let again = try? definition.decide(instance, input, now: now) {
            let same =
                again.events.map(\.kind.typeName) == decision.events.map(\.kind.typeName)
                && again.events.map(\.sequence) == decision.events.map(\.sequence)
                && again.commands.map(\.id) == decision.commands.map(\.id)
                && again.timers == decision.timers && again.instance == decision.instance
            if !same { fail("decide is not deterministic for \(input)") }
        }
        if checkDeterminism {
            // The in-place fast path must decide exactly what `decide` does.
            var inPlace = instance
            if let transition = try? definition.transition(&inPlace, input, now: now) {
                if inPlace != decision.instance || transition.events.map(\.kind.typeName) != decision.events.map(\.kind.typeName)
                    || transition.commands.map(\.id) != decision.commands.map(\.id) || transition.timers != decision.timers
                {
                    fail("transition(_:_:now:) differs from decide for \(input)")
                }
            } else {
                fail("transition(_:_:now:) threw where decide did not")
            }
        }
        if instance.status.isFinal {
            if !decision.commands.isEmpty || !decision.timers.isEmpty {
                fail("commands or timers after the saga was \(instance.status)")
            }
            if decision.events.contains(where: { $0.kind.typeName != "saga.input-ignored" && $0.kind.typeName != "operator.command-rejected" }) {
                fail("state-changing events after the saga was \(instance.status): \(decision.events.map(\.kind.typeName))")
            }
        }
        instance = decision.instance
        events += decision.events
        for command in decision.commands {
            if !commandIds.insert(command.id).inserted { fail("command id \(command.id) reused") }
            if command.purpose == .compensation { compensationCommands.append(command.step) }
            answer(command)
        }
        for timer in decision.timers { armed[timer.id] = timer }
        for kind in decision.cancelledTimers where random.chance(50) { armed[kind.id(sagaId: instance.sagaId)] = nil }
    }

    /// Decides now what the participant will answer (or whether the answer is lost).
    mutating func answer(_ command: OutgoingCommand) {
        let roll = settling ? 0 : random.below(100)
        let payload: Payload
        let type: String
        if command.purpose == .action {
            switch roll {
            case 0..<60: (type, payload) = (POk.messageType, Payload(POk(note: random.below(10))))
            case 60..<68: (type, payload) = (PFail.messageType, Payload(PFail()))
            case 68..<78: (type, payload) = (PBusy.messageType, Payload(PBusy()))
            default: return
            }
        } else {
            switch roll {
            case 0..<70: (type, payload) = (PUndone.messageType, Payload(PUndone()))
            case 70..<80: (type, payload) = (PUndoRefused.messageType, Payload(PUndoRefused()))
            default: return
            }
        }
        counter += 1
        let form = random.below(100)
        pending.append(
            IncomingMessage(
                messageType: type, messageId: "r\(counter)", step: form < 97 ? command.step : nil,
                causationId: form < 80 ? command.id : nil, payload: payload))
    }

    mutating func deliver(_ index: Int) {
        let message = pending.remove(at: index)
        delivered.append(message)
        decide(.message(message))
    }

    mutating func fire(_ id: String) {
        guard let timer = armed.removeValue(forKey: id) else { return }
        if timer.due > now { now = timer.due }
        decide(.timer(timer.kind))
    }

    mutating func operatorAction() {
        let stuck = instance.status == .failedNeedsOperator
        let roll = random.below(100)
        let action: SagaEvent.OperatorAction = stuck ? (roll < 60 ? .retry : roll < 90 ? .skip : .abort) : random.pick([.abort, .retry, .skip])
        var step: String?
        if action == .skip && random.chance(40) { step = random.pick(definition.steps).name }
        decide(.operatorCommand(OperatorCommand(action, actor: "ops", reason: "test", step: step)))
    }

    mutating func run() {
        decide(.start(StartMessage(PStart(flags: random.below(256)), messageId: "start")))
        let ticks = 10 + random.below(50)
        for _ in 0..<ticks {
            if instance.status.isFinal && random.chance(40) { break }
            now = now.addingTimeInterval(Double(random.below(3000)) / 1000)
            let roll = random.below(100)
            if instance.status == .failedNeedsOperator && random.chance(30) {
                operatorAction()
            } else if roll < 55 && !pending.isEmpty {
                deliver(random.below(pending.count))
            } else if roll < 80 && !armed.isEmpty {
                fire(random.pick(Array(armed.keys).sorted()))
            } else if roll < 87 && !delivered.isEmpty {
                decide(.message(random.pick(delivered)))
            } else if roll < 89 {
                operatorAction()
            } else if !pending.isEmpty {
                deliver(0)
            }
        }
        // Settle: every participant answers success from now on, timers fire in due order.
        settling = true
        for _ in 0..<2000 {
            if !pending.isEmpty {
                deliver(random.below(pending.count))
            } else if !instance.status.isFinal, let next = armed.values.min(by: { ($0.due, $0.id) < ($1.due, $1.id) }) {
                fire(next.id)
            } else {
                break
            }
        }
        checkInvariants()
    }

    mutating func checkInvariants() {
        let status = instance.status
        guard [.completed, .compensated, .failedNeedsOperator].contains(status) else {
            return fail("ended \(status.rawValue), not completed, compensated or failed-needs-operator: \(events.map(\.kind.typeName))")
        }

        // Facts from the log, independent of the engine's bookkeeping.
        var firstSuccess: [String: Int] = [:]
        var timedOut: Set<String> = []
        var compensationDone: [String: Int] = [:]
        var firstCompensationSent: [String: Int] = [:]
        var compensationStart: Int?
        for (position, event) in events.enumerated() {
            switch event.kind {
            case .stepSucceeded(let step, _, _, _, _):
                if firstSuccess[step.name] == nil { firstSuccess[step.name] = position }
            case .stepTimedOut(let step, _): timedOut.insert(step.name)
            case .compensationSucceeded(let step, _, _, _), .compensationSkippedByOperator(let step, _):
                compensationDone[step.name, default: 0] += 1
            case .compensationSent(let step, _, _):
                if firstCompensationSent[step.name] == nil { firstCompensationSent[step.name] = position }
            case .compensationStarted:
                if compensationStart == nil { compensationStart = position }
            default: break
            }
        }
        // Completed exactly when every step succeeded or was skipped and nothing was undone.
        let settled = instance.steps.allSatisfy(\.isSettledForward)
        if (status == .completed) != (settled && compensationStart == nil) {
            fail("completed=\(status == .completed) but all steps settled=\(settled), compensated=\(compensationStart != nil)")
        }
        for (step, count) in compensationDone where count > 1 { fail("step \(step) compensated \(count) times") }
        if let pivot = definition.steps.first(where: { $0.kind == .pivot }), let passed = firstSuccess[pivot.name] {
            if let start = compensationStart, start > passed, instance.steps[definition.stepIndex(named: pivot.name)!].phase == .succeeded {
                fail("compensation started after the pivot succeeded")
            }
            for (step, position) in firstCompensationSent where position > passed {
                fail("step \(step) compensated after the pivot succeeded")
            }
        }
        if status == .completed && compensationStart != nil { fail("completed after compensation began") }
        if compensationStart == nil && !compensationCommands.isEmpty { fail("compensation commands without compensation") }
        if status == .compensated {
            var expected: Set<String> = []
            for (index, step) in definition.steps.enumerated() where step.kind == .compensatable {
                let mayHaveEffect = firstSuccess[step.name] != nil || timedOut.contains(step.name)
                if mayHaveEffect && instance.steps[index].phase != .skippedByOperator { expected.insert(step.name) }
            }
            if Set(compensationDone.keys) != expected {
                fail("compensated \(compensationDone.keys.sorted()) but expected \(expected.sorted())")
            }
        }
        // Reverse order of completion, for steps whose success was never in doubt.
        let certain = firstCompensationSent.keys.filter { firstSuccess[$0] != nil && !timedOut.contains($0) }
        for a in certain {
            for b in certain where firstSuccess[a]! < firstSuccess[b]! {
                if firstCompensationSent[b]! > firstCompensationSent[a]! {
                    fail("\(a) completed before \(b) but was compensated first")
                }
            }
        }
        // And the engine's own record agrees: compensations walk completionOrder backwards.
        let expectedOrder = instance.completionOrder.reversed().map { definition.steps[$0].name }
            .filter { firstCompensationSent[$0] != nil }
        let actualOrder = firstCompensationSent.sorted { $0.value < $1.value }.map(\.key)
        if expectedOrder != actualOrder { fail("compensation order \(actualOrder), completion order reversed \(expectedOrder)") }

        // Replay gives exactly the live state.
        do {
            let replayed = try definition.fold(sagaId: instance.sagaId, events: events)
            if replayed != instance { fail("replay differs from the live state") }
            if seed % 10 == 0 {
                let stored = try events.map { try $0.jsonBytes() }
                let decoded = try definition.decodeEvents(stored)
                if try definition.fold(sagaId: instance.sagaId, events: decoded) != instance {
                    fail("replay from stored JSON differs from the live state")
                }
                if try decoded.map({ try $0.jsonBytes() }) != stored { fail("stored events do not re-encode identically") }
            }
        } catch {
            fail("replay threw \(error)")
        }
        if seed % 4 == 0 {
            let report = definition.replayCheck(sagaId: instance.sagaId, events: events)
            if !report.isCompatible { fail("replay check against the same definition: \(report)") }
        }
    }
}

@Suite struct PropertyTests {
    static let definitions: [SagaDefinition<PState>] = (0..<64).map { PropertyModel.definition(seed: UInt64($0) &* 7919) }

    @Test func randomDefinitionsAreValid() {
        for definition in Self.definitions {
            #expect(definition.validationErrors().isEmpty, "\(definition.validationErrors())")
        }
    }

    /// 100,000 random histories, in 20 batches that run in parallel.
    ///
    /// A batch yields its thread every 50 histories. The batches are a minute of CPU in a debug
    /// build, and the test tasks of every suite share the cooperative pool's threads (two on a
    /// 2-core machine): without the yields, the first 38 s of `make test` ran nothing but these,
    /// and every other test that had started waited for a thread (its `eventually` deadlines
    /// too).
    @Test(arguments: 0..<20)
    func randomHistoriesKeepTheInvariants(batch: Int) async {
        var failures: [String] = []
        var outcomes: [SagaStatus: Int] = [:]
        for index in 0..<5_000 {
            let seed = UInt64(batch * 5_000 + index) &+ 1
            let definition = Self.definitions[Int(seed % UInt64(Self.definitions.count))]
            var simulation = Simulation(definition: definition, seed: seed)
            simulation.run()
            outcomes[simulation.instance.status, default: 0] += 1
            failures += simulation.failures
            if failures.count > 20 { break }
            if index % 50 == 49 { await Task.yield() }
        }
        #expect(failures.isEmpty, "\(failures.prefix(20).joined(separator: "\n"))")
        // The generator must actually reach every ending, or the invariants prove little.
        #expect(outcomes[.completed, default: 0] > 0)
        #expect(outcomes[.compensated, default: 0] > 0)
        #expect(outcomes[.failedNeedsOperator, default: 0] > 0)
    }
}
