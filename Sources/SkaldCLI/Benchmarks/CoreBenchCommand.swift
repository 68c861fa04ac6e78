import ArgumentParser
import Foundation
import Skald

/// `skald bench core`: how fast the pure saga engine runs on one core.
///
/// Three numbers, each from one thread:
/// - transitions/s: `decide` on typed inputs, including applying the events it
///   emits (the instance the runtime keeps), over complete PlaceOrder sagas;
/// - events/s folded: replaying the in-memory logs of those sagas;
/// - stored events/s: decoding the same logs from their JSON rows and folding
///   them, the cost of loading an instance that is not cached;
/// - encode: writing the same events as JSON rows, and the sagas' final states
///   as the snapshot row holds them (JSON encoding alone);
/// plus the type-erased runtime path (JSON bytes in, JSON rows and commands out).
struct CoreBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "core",
        abstract: "Measure decide/evolve transitions and replay speed of the saga engine on one core."
    )

    @Option(help: "Number of PlaceOrder sagas to run through the engine.")
    var sagas = 200_000

    @Option(help: "Number of sagas for the JSON and runtime-path measurements.")
    var storedSagas = 20_000

    @Flag(help: "Measure decide + evolve only (for profiling).")
    var decideOnly = false

    func run() async throws {
        guard sagas > 0, storedSagas > 0 else { throw ValidationError("--sagas and --stored-sagas must be positive") }
        let definition = BenchSaga.definition
        try definition.validate()
        let now = Date(timeIntervalSince1970: 1_800_000_000)

        // Inputs are built before the clock starts: the runtime receives them already parsed.
        var inputs: [[SagaInput]] = []
        inputs.reserveCapacity(sagas)
        for index in 0..<sagas {
            inputs.append(BenchSaga.happyPath(sagaId: "saga-\(index)", compensate: index % 5 == 0))
        }

        // 1. decide + evolve (events are handed on and dropped, as the runtime does after its commit)
        var transitions = 0
        var emitted = 0
        var completed = 0
        var transition = Transition()
        let decideCPU = threadCPUSeconds()
        let decideClock = ContinuousClock.now
        for index in 0..<sagas {
            var instance = SagaInstance<BenchSaga.State>(sagaId: "saga-\(index)")
            let sagaInputs = inputs[index]
            for position in sagaInputs.indices {
                try definition.transition(&instance, sagaInputs[position], now: now, into: &transition)
                emitted &+= transition.events.count &+ transition.commands.count
                transitions += 1
            }
            if instance.status.isFinal { completed += 1 }
        }
        let decideTime = ContinuousClock.now - decideClock
        let decideCPUTime = threadCPUSeconds() - decideCPU
        guard completed == sagas else { throw ValidationError("only \(completed) of \(sagas) sagas finished") }
        if decideOnly {
            let rate = Double(transitions) / max(decideTime.inSeconds, 1e-9)
            let cpuRate = Double(transitions) / max(decideCPUTime, 1e-9)
            print(
                "decide + evolve \(Int(rate)) transitions/s wall, \(Int(cpuRate)) per CPU-second "
                    + "(\(transitions) in \(decideTime), \(emitted) events and commands)")
            return
        }

        // The logs to replay, collected outside the clock.
        var logs: [[SagaEvent]] = []
        logs.reserveCapacity(sagas)
        for index in 0..<sagas {
            var instance = SagaInstance<BenchSaga.State>(sagaId: "saga-\(index)")
            var events: [SagaEvent] = []
            for input in inputs[index] {
                let decision = try definition.decide(instance, input, now: now)
                instance = decision.instance
                events.append(contentsOf: decision.events)
            }
            logs.append(events)
        }

        // 2. replay: fold in-memory events
        var folded = 0
        var checksum = 0
        let foldCPU = threadCPUSeconds()
        let foldClock = ContinuousClock.now
        for (index, events) in logs.enumerated() {
            var instance = SagaInstance<BenchSaga.State>(sagaId: "saga-\(index)")
            for event in events { try definition.apply(event, to: &instance) }
            folded += events.count
            checksum &+= instance.lastSequence
        }
        let foldTime = ContinuousClock.now - foldClock
        let foldCPUTime = threadCPUSeconds() - foldCPU

        // 3. decode stored JSON rows + fold
        let stored = try logs.prefix(storedSagas).map { try $0.map { try $0.jsonBytes() } }
        let storedCount = stored.reduce(0) { $0 + $1.count }
        let storedBytes = stored.reduce(0) { $0 + $1.reduce(0) { $0 + $1.count } }
        let jsonCPU = threadCPUSeconds()
        let jsonClock = ContinuousClock.now
        for (index, rows) in stored.enumerated() {
            let instance = try definition.fold(sagaId: "saga-\(index)", events: definition.decodeEvents(rows))
            checksum &+= instance.lastSequence
        }
        let jsonTime = ContinuousClock.now - jsonClock
        let jsonCPUTime = threadCPUSeconds() - jsonCPU

        // 4. JSON encoding alone: the stored rows of those sagas, and their final states
        // (a state is encoded for every snapshot row the runtime writes)
        let encodeLogs = Array(logs.prefix(storedSagas))
        var encodedBytes = 0
        let encodeCPU = threadCPUSeconds()
        let encodeClock = ContinuousClock.now
        for events in encodeLogs {
            for event in events { encodedBytes &+= try event.jsonBytes().count }
        }
        let encodeTime = ContinuousClock.now - encodeClock
        let encodeCPUTime = threadCPUSeconds() - encodeCPU
        var states: [BenchSaga.State] = []
        states.reserveCapacity(encodeLogs.count)
        for (index, events) in encodeLogs.enumerated() {
            if let state = try definition.fold(sagaId: "saga-\(index)", events: events).data { states.append(state) }
        }
        let stateCPU = threadCPUSeconds()
        let stateClock = ContinuousClock.now
        for state in states { encodedBytes &+= try Payload(state).jsonBytes().count }
        let stateTime = ContinuousClock.now - stateClock
        let stateCPUTime = threadCPUSeconds() - stateCPU
        checksum &+= encodedBytes

        // 5. the runtime path: bytes in, JSON rows + commands out
        let erased: any RuntimeSagaDefinition = definition
        let runtimeInputs = (0..<storedSagas).map { BenchSaga.runtimePath(sagaId: "rt-\($0)", compensate: $0 % 5 == 0) }
        var runtimeTransitions = 0
        let runtimeCPU = threadCPUSeconds()
        let runtimeClock = ContinuousClock.now
        for (index, sagaInputs) in runtimeInputs.enumerated() {
            var instance = erased.newInstance(sagaId: "rt-\(index)")
            for input in sagaInputs {
                let decision = try erased.decide(instance, input, now: now)
                instance = decision.instance
                runtimeTransitions += 1
            }
        }
        let runtimeTime = ContinuousClock.now - runtimeClock
        let runtimeCPUTime = threadCPUSeconds() - runtimeCPU

        func rate(_ count: Int, _ seconds: Double) -> String {
            Int(Double(count) / max(seconds, 1e-9)).formatted(.number.grouping(.automatic))
        }
        func nanoseconds(_ seconds: Double, _ count: Int) -> Int {
            Int(seconds * 1e9 / Double(max(count, 1)))
        }
        func line(_ label: String, _ count: Int, _ unit: String, _ wall: Duration, _ cpu: Double, _ note: String) {
            let padded = label.padding(toLength: 22, withPad: " ", startingAt: 0)
            print("  \(padded)\(rate(count, wall.inSeconds)) \(unit)/s wall, \(rate(count, cpu)) per CPU-second  (\(note))")
        }
        print("skald bench core  (one thread, \(sagas) PlaceOrder sagas, 1 in 5 compensated; checksum \(checksum &+ emitted))")
        line("decide + evolve", transitions, "transitions", decideTime, decideCPUTime, "\(transitions) inputs, \(emitted) events + commands")
        line("replay (fold)", folded, "events", foldTime, foldCPUTime, "\(folded) events")
        line(
            "stored JSON + fold", storedCount, "events", jsonTime, jsonCPUTime,
            "\(storedCount) rows, \(storedBytes / max(storedCount, 1)) B avg")
        line(
            "encode events", storedCount, "events", encodeTime, encodeCPUTime,
            "\(nanoseconds(encodeCPUTime, storedCount)) ns per event per CPU")
        line(
            "encode states", states.count, "states", stateTime, stateCPUTime,
            "\(nanoseconds(stateCPUTime, states.count)) ns per state per CPU")
        line("runtime path (bytes)", runtimeTransitions, "transitions", runtimeTime, runtimeCPUTime, "JSON in, rows + commands out")
    }
}

/// CPU time of the calling thread: on a shared machine, wall time also counts the
/// time other processes held the core, so both are reported.
private func threadCPUSeconds() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}

/// A PlaceOrder saga shaped like the example one, local to the benchmark.
enum BenchSaga {
    struct State: Codable, Sendable, Equatable {
        var orderId: String
        var amountCents: Int
        var reservationId: String?
        var paymentId: String?
    }

    struct Start: SagaMessage {
        static let messageType = "bench.PlaceOrder"
        var orderId: String
        var amountCents: Int
    }

    struct Command: SagaMessage {
        static let messageType = "bench.Command"
        var orderId: String
    }

    struct Undo: SagaMessage {
        static let messageType = "bench.Undo"
        var orderId: String
    }

    struct Done: SagaMessage {
        static let messageType = "bench.Done"
        var ref: String
    }

    struct Failed: SagaMessage {
        static let messageType = "bench.Failed"
        var reason: String
    }

    struct Undone: SagaMessage {
        static let messageType = "bench.Undone"
    }

    static let definition = SagaDefinition("PlaceOrder", version: 1, state: State.self) {
        Step("create-order") {
            Skald.Command(to: "orders.commands") { state in Command(orderId: state.orderId) }
            OnSuccess(Done.self)
            OnFailure(Failed.self)
            Compensation(to: "orders.commands", confirmedBy: Undone.self) { state in Undo(orderId: state.orderId) }
        }
        Step("reserve-inventory") {
            Skald.Command(to: "inventory.commands") { state in Command(orderId: state.orderId) }
            OnSuccess(Done.self) { state, reply in state.reservationId = reply.ref }
            OnFailure(Failed.self)
            Compensation(to: "inventory.commands", confirmedBy: Undone.self) { state in Undo(orderId: state.orderId) }
        }
        Step("process-payment") {
            Skald.Command(to: "payments.commands") { state in Command(orderId: state.orderId) }
            OnSuccess(Done.self) { state, reply in state.paymentId = reply.ref }
            OnFailure(Failed.self)
            Compensation(to: "payments.commands", confirmedBy: Undone.self) { state in Undo(orderId: state.orderId) }
        }
        Step("confirm-order", kind: .pivot) {
            Skald.Command(to: "orders.commands") { state in Command(orderId: state.orderId) }
            OnSuccess(Done.self)
            OnFailure(Failed.self)
        }
        Step("notify-customer", kind: .retriable) {
            Skald.Command(to: "notifications.commands") { state in Command(orderId: state.orderId) }
            OnSuccess(Done.self)
        }
    }
    .startedBy(command: Start.self) { State(orderId: $0.orderId, amountCents: $0.amountCents) }
    .businessKey(\.orderId)

    static let steps = ["create-order", "reserve-inventory", "process-payment", "confirm-order", "notify-customer"]

    /// Start plus one reply per step; a compensated saga fails at the pivot and confirms three undos.
    static func happyPath(sagaId: String, compensate: Bool) -> [SagaInput] {
        var inputs: [SagaInput] = [.start(StartMessage(Start(orderId: sagaId, amountCents: 100), messageId: "start"))]
        func reply(_ step: String, _ payload: Payload, _ type: String, purpose: OutgoingCommand.Purpose = .action) {
            inputs.append(
                .message(
                    IncomingMessage(
                        messageType: type, messageId: "\(sagaId)-\(inputs.count)", step: step,
                        causationId: OutgoingCommand.id(sagaId: sagaId, step: step, purpose: purpose, attempt: 1),
                        payload: payload)))
        }
        let done = Payload(Done(ref: "r"))
        for step in steps.prefix(3) { reply(step, done, Done.messageType) }
        if compensate {
            reply("confirm-order", Payload(Failed(reason: "no")), Failed.messageType)
            for step in steps.prefix(3).reversed() {
                reply(step, Payload(Undone()), Undone.messageType, purpose: .compensation)
            }
        } else {
            reply("confirm-order", done, Done.messageType)
            reply("notify-customer", done, Done.messageType)
        }
        return inputs
    }

    /// The same inputs as the runtime sees them: envelopes and JSON bytes.
    static func runtimePath(sagaId: String, compensate: Bool) -> [RuntimeInput] {
        let encoder = JSONEncoder()
        return happyPath(sagaId: sagaId, compensate: compensate).compactMap { input in
            switch input {
            case .start(let message):
                let bytes = (try? message.payload.jsonBytes()) ?? []
                return .start(
                    envelope: MessageEnvelope(id: message.messageId, source: "bench", type: message.messageType),
                    payload: bytes)
            case .message(let message):
                let bytes = (try? message.payload.jsonBytes()) ?? Array((try? encoder.encode(JSONValue.null)) ?? Data())
                return .message(
                    envelope: MessageEnvelope(
                        id: message.messageId, source: "bench", type: message.messageType, sagaId: sagaId,
                        sagaType: "PlaceOrder", sagaStep: message.step, causationId: message.causationId),
                    payload: bytes)
            default:
                return nil
            }
        }
    }
}
