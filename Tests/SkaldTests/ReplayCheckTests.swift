import Foundation
import Skald
import SkaldExamples
import Testing

@Suite struct ReplayCheckTests {
    let request = PlaceOrderRequest(orderId: "o-1", customerId: "c-1", lines: [], amountCents: 100)

    func paidHistory() throws -> [SagaEvent] {
        var driver = Driver(placeOrder)
        try driver.start(request)
        try driver.reply("create-order", OrderCreated(orderId: "o-1"))
        try driver.reply("reserve-inventory", InventoryReserved(orderId: "o-1", reservationId: "r"))
        try driver.reply("process-payment", PaymentGatewayBusy())
        try driver.fire(.stepRetry(step: "process-payment", attempt: 2))
        try driver.reply("process-payment", PaymentProcessed(paymentId: "p"))
        try driver.reply("process-payment", PaymentProcessed(paymentId: "p"))
        return driver.events
    }

    @Test func sameDefinitionReplaysIdentically() throws {
        let events = try paidHistory()
        let report = placeOrder.replayCheck(sagaId: "saga-1", events: events)
        #expect(report.isCompatible, "\(report)")
        #expect(report.matchedEvents == events.count)
    }

    @Test func storedHistoryReplaysIdentically() throws {
        let stored = try paidHistory().map { try $0.jsonBytes() }
        let report = placeOrder.replayCheck(sagaId: "saga-1", events: try placeOrder.decodeEvents(stored))
        #expect(report.isCompatible, "\(report)")
    }

    @Test func insertedStepIsReportedWhereItWouldRun() throws {
        let events = try paidHistory()
        let v2 = SagaDefinition("PlaceOrder", version: 2, state: PlaceOrderState.self) {
            for step in placeOrder.steps.prefix(3) { step }
            Step("fraud-check", kind: .pivot) {
                Command(to: "fraud.commands") { state in ConfirmOrder(orderId: state.orderId) }
                OnSuccess(OrderConfirmed.self)
            }
        }
        .startedBy(command: PlaceOrderRequest.self) { PlaceOrderState($0) }
        let report = v2.replayCheck(sagaId: "saga-1", events: events)
        let divergence = try #require(report.divergence)
        guard case .stepCommandSent(let recordedStep, _, _) = divergence.recorded?.kind,
            case .stepCommandSent(let newStep, _, _) = divergence.wouldEmit.first
        else {
            Issue.record("unexpected divergence \(report)")
            return
        }
        #expect(recordedStep.name == "confirm-order")
        #expect(newStep.name == "fraud-check")
        #expect(divergence.wouldSend.map(\.topic) == ["fraud.commands"])
        // The same type of fact with another step: the explanation shows both, so the step names are in it.
        #expect(report.description.contains("recorded step.command-sent differs from what this definition would emit"))
        #expect(report.description.contains("confirm-order") && report.description.contains("fraud-check"))
    }

    @Test func stricterRetryPolicyDivergesAtTheRetry() throws {
        let events = try paidHistory()
        let v2 = SagaDefinition("PlaceOrder", version: 2, state: PlaceOrderState.self) {
            for step in placeOrder.steps.prefix(2) { step }
            placeOrder.steps[2].retry(.none)
            for step in placeOrder.steps.suffix(2) { step }
        }
        .startedBy(command: PlaceOrderRequest.self) { PlaceOrderState($0) }
        let divergence = try #require(v2.replayCheck(sagaId: "saga-1", events: events).divergence)
        #expect(divergence.recorded?.kind.typeName == "step.retry-scheduled")
        #expect(divergence.wouldEmit.first?.typeName == "compensation.started")
        #expect(divergence.wouldSend.map(\.step) == ["reserve-inventory"])
    }

    @Test func historyLongerThanTheDefinitionAllowsIsReported() throws {
        var events = try paidHistory()
        events.append(SagaEvent(sequence: events.count + 1, time: events[0].time, kind: .completed))
        let report = placeOrder.replayCheck(sagaId: "saga-1", events: events)
        #expect(report.divergence?.sequence == events.count)
        #expect(report.description.contains("not the start of a decision"))
    }
}
