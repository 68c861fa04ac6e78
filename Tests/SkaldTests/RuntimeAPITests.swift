import Foundation
import Skald
import SkaldExamples
import Testing

struct StockReserved: SagaMessage {
    static let messageType = "com.example.inventory.StockReserved"
    var orderId: String
}

struct StockReleased: SagaMessage {
    static let messageType = "com.example.inventory.StockReleased"
    var orderId: String
}

/// A saga whose inventory service knows nothing of sagas: it is correlated by `orderId`.
let eventDriven = SagaDefinition("Fulfil", version: 3, state: PlaceOrderState.self) {
    Step("reserve") {
        Command(to: "inventory.commands") { state in ReserveInventory(orderId: state.orderId, lines: state.lines) }
        OnSuccess(StockReserved.self, on: "inventory.events", correlatedBy: \.orderId)
        Compensation(
            to: "inventory.commands", confirmedBy: StockReleased.self, on: "inventory.events", correlatedBy: \.orderId
        ) { state in ReleaseInventory(orderId: state.orderId) }
    }
    Step("notify", kind: .retriable) {
        Command(to: "notifications.commands") { state in NotifyCustomer(customerId: state.customerId, text: "ok") }
        OnSuccess(CustomerNotified.self)
    }
}
.startedBy(event: OrderCreatedEvent.self, on: "orders.events", key: \.orderId) { PlaceOrderState($0) }
.businessKey(\.orderId)

@Suite struct RuntimeAPITests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func json(_ value: some Encodable) throws -> [UInt8] {
        Array(try JSONEncoder().encode(value))
    }

    func registry() throws -> SagaRegistry {
        var registry = SagaRegistry()
        try registry.register(placeOrder)
        try registry.register(eventDriven)
        return registry
    }

    @Test func registryValidatesAndFindsVersions() throws {
        var registry = try registry()
        #expect(try registry.latest(name: "PlaceOrder").version == 1)
        #expect(try registry.definition(name: "Fulfil", version: 3).name == "Fulfil")
        #expect(throws: SagaError.self) { try registry.definition(name: "Fulfil", version: 1) }
        #expect(throws: SagaError.self) { try registry.register(placeOrder) }
        do {
            try registry.register(SagaDefinition("Broken", state: TinyState.self) { tinyStep("a", .pivot); tinyStep("b") })
            Issue.record("registered a broken definition")
        } catch let error as SagaDefinitionErrors {
            #expect(error.description.contains("Broken v1, step 'b': a compensatable step may not follow the pivot 'a'"))
        }
        #expect(registry.all.map(\.name) == ["Fulfil", "PlaceOrder"])
        #expect(registry.topics.contains("orders.events") && registry.topics.contains("inventory.events"))
    }

    @Test func theLatestVersionIsTheNewestWhateverTheOrderOfRegistration() throws {
        func tiny(_ version: Int) -> SagaDefinition<TinyState> {
            SagaDefinition("Tiny", version: version, state: TinyState.self) { tinyStep("a") }
                .startedBy(command: Ping.self) { _ in TinyState() }
        }
        var registry = try registry()
        try registry.register(tiny(2))
        try registry.register(tiny(1))
        #expect(try registry.latest(name: "Tiny").version == 2)
        try registry.register(tiny(3))
        #expect(try registry.latest(name: "Tiny").version == 3)
        #expect(try registry.definition(name: "Tiny", version: 1).version == 1)
        #expect(try registry.latest(name: "PlaceOrder").version == 1)
        #expect(throws: SagaError.self) { try registry.latest(name: "Nameless") }
        // A start goes to the newest version only.
        let start = MessageEnvelope(id: "p-1", source: "test", type: Ping.messageType, sagaType: "Tiny")
        let routes = try registry.route(topic: "skald.commands.Tiny", envelope: start, payload: Array("{}".utf8))
        #expect(routes.map(\.definition.version) == [3])
    }

    @Test func fullCycleThroughBytes() throws {
        let registry = try registry()
        let definition = try registry.latest(name: "PlaceOrder")
        let request = PlaceOrderRequest(orderId: "o-1", customerId: "c-1", lines: [], amountCents: 10)
        let startEnvelope = MessageEnvelope(id: "req-1", source: "admin", type: PlaceOrderRequest.messageType, time: now)
        let started = try definition.decide(
            definition.newInstance(sagaId: "saga-9"), .start(envelope: startEnvelope, payload: json(request)), now: now)
        #expect(started.events.map(\.type) == ["saga.started", "step.command-sent"])
        #expect(started.snapshot.status == .running)
        #expect(started.snapshot.currentStep == "create-order")
        #expect(started.snapshot.businessKey == "o-1")
        let command = try #require(started.commands.first)
        #expect(command.topic == "orders.commands" && command.key == "saga-9")
        #expect(command.envelope.sagaStep == "create-order" && command.envelope.source == "skald/PlaceOrder")
        #expect(try JSONDecoder().decode(CreateOrder.self, from: Data(command.payload)).orderId == "o-1")
        #expect(started.timers.map(\.kind.name).sorted() == ["deadline", "step-timeout"])

        // The participant replies with its own envelope; the runtime only has bytes.
        let replyEnvelope = MessageEnvelope(
            id: "reply-1", source: "//orders", type: OrderCreated.messageType, time: now, sagaId: "saga-9",
            sagaType: "PlaceOrder", sagaStep: "create-order", causationId: command.id)
        let routes = try registry.route(topic: "skald.replies", envelope: replyEnvelope, payload: json(OrderCreated(orderId: "o-1")))
        #expect(routes.count == 1 && routes.first?.route == .deliver(sagaId: "saga-9"))
        let replied = try definition.decide(
            started.instance, .message(envelope: replyEnvelope, payload: json(OrderCreated(orderId: "o-1"))), now: now)
        #expect(replied.events.map(\.type) == ["step.succeeded", "step.command-sent"])
        #expect(replied.commands.first?.envelope.causationId == "reply-1")
        #expect(replied.snapshot.steps.map(\.phase) == [.succeeded, .running, .pending, .pending, .pending])

        // Loading from the stored rows gives the same snapshot.
        let loaded = try definition.load(sagaId: "saga-9", events: started.events + replied.events)
        #expect(try definition.snapshot(of: loaded) == replied.snapshot)
        #expect(try definition.replayCheck(sagaId: "saga-9", events: started.events + replied.events).isCompatible)

        // A payload that does not decode is an error for the dead-letter topic, not a crash.
        #expect(throws: SagaError.self) {
            try definition.decide(replied.instance, .message(envelope: replyEnvelope, payload: Array("{}".utf8)), now: now)
        }
        // An instance of another saga type is refused.
        #expect(throws: SagaError.self) {
            try registry.latest(name: "Fulfil").decide(replied.instance, .timer(.deadline), now: now)
        }
    }

    @Test func eventStartedAndCorrelatedByBusinessKey() throws {
        let registry = try registry()
        let created = OrderCreatedEvent(orderId: "o-77", customerId: "c", lines: [], amountCents: 1)
        let envelope = MessageEnvelope(id: "evt-1", source: "//orders", type: OrderCreatedEvent.messageType, time: now)
        let routes = try registry.route(topic: "orders.events", envelope: envelope, payload: json(created))
        // Both saga types start on OrderCreated; each gets its own deterministic saga id.
        #expect(
            routes.map(\.route) == [
                .start(sagaId: "Fulfil-o-77", businessKey: "o-77"), .start(sagaId: "PlaceOrder-o-77", businessKey: "o-77"),
            ])
        let definition = try #require(routes.first?.definition)
        let started = try definition.decide(
            definition.newInstance(sagaId: "Fulfil-o-77"), .start(envelope: envelope, payload: json(created)), now: now)
        #expect(started.snapshot.businessKey == "o-77")

        // The inventory service publishes a plain domain event: no saga headers at all.
        let reserved = MessageEnvelope(id: "inv-1", source: "//inventory", type: StockReserved.messageType, time: now)
        let correlated = try registry.route(topic: "inventory.events", envelope: reserved, payload: json(StockReserved(orderId: "o-77")))
        #expect(correlated.map(\.route) == [.correlate(businessKey: "o-77")])
        let next = try definition.decide(
            started.instance, .message(envelope: reserved, payload: json(StockReserved(orderId: "o-77"))), now: now)
        #expect(next.events.map(\.type) == ["step.succeeded", "step.command-sent"])
        #expect(next.snapshot.currentStep == "notify")
        #expect(definition.subscriptions.contains(SagaSubscription(topic: "inventory.events", messageType: StockReleased.messageType, role: .correlatedEvent)))
    }

    @Test func unknownMessagesRouteNowhereAndAreRecordedWhenDelivered() throws {
        let registry = try registry()
        let stray = MessageEnvelope(id: "x", source: "//misc", type: "com.example.Unknown", time: now)
        #expect(try registry.route(topic: "misc.events", envelope: stray, payload: Array("{}".utf8)).isEmpty)
        let definition = try registry.latest(name: "PlaceOrder")
        let start = MessageEnvelope(id: "req", source: "admin", type: PlaceOrderRequest.messageType, time: now)
        let started = try definition.decide(
            definition.newInstance(sagaId: "s"),
            .start(envelope: start, payload: json(PlaceOrderRequest(orderId: "o", customerId: "c", lines: [], amountCents: 1))),
            now: now)
        let ignored = try definition.decide(started.instance, .message(envelope: stray, payload: Array("{}".utf8)), now: now)
        #expect(ignored.events.map(\.type) == ["saga.input-ignored"])
        #expect(ignored.commands.isEmpty)
    }
}
