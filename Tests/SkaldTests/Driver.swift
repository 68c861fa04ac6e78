import Foundation
import Skald

/// Drives one saga instance through `decide`, keeping what a runtime would keep.
struct Driver<State: Codable & Sendable & Equatable> {
    let definition: SagaDefinition<State>
    var instance: SagaInstance<State>
    var events: [SagaEvent] = []
    var commands: [OutgoingCommand] = []
    var timers: [TimerRequest] = []
    var now = Date(timeIntervalSince1970: 1_800_000_000)
    var messageCounter = 0

    init(_ definition: SagaDefinition<State>, sagaId: String = "saga-1") {
        self.definition = definition
        self.instance = SagaInstance(sagaId: sagaId)
    }

    @discardableResult
    mutating func send(_ input: SagaInput) throws -> Decision<State> {
        let decision = try definition.decide(instance, input, now: now)
        instance = decision.instance
        events += decision.events
        commands += decision.commands
        timers += decision.timers
        return decision
    }

    @discardableResult
    mutating func start<M: SagaMessage>(_ message: M) throws -> Decision<State> {
        try send(.start(StartMessage(message, messageId: "start-1")))
    }

    func lastCommand(_ step: String, _ purpose: OutgoingCommand.Purpose = .action) -> OutgoingCommand? {
        commands.last { $0.step == step && $0.purpose == purpose }
    }

    /// Replies to the latest command of `step` the way a saga-aware participant does.
    @discardableResult
    mutating func reply<M: SagaMessage>(
        _ step: String, _ message: M, _ purpose: OutgoingCommand.Purpose = .action
    ) throws -> Decision<State> {
        let command = lastCommand(step, purpose)
        messageCounter += 1
        return try send(
            .message(
                IncomingMessage(message, messageId: "m-\(messageCounter)", step: step, causationId: command?.id)))
    }

    @discardableResult
    mutating func fire(_ kind: TimerKind) throws -> Decision<State> {
        try send(.timer(kind))
    }

    var typeNames: [String] { events.map(\.kind.typeName) }

    func commandSteps(_ purpose: OutgoingCommand.Purpose) -> [String] {
        commands.filter { $0.purpose == purpose }.map(\.step)
    }
}
