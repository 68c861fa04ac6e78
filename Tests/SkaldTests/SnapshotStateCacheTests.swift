import Foundation
import Skald
import SkaldExamples
import Testing

/// The runtime keeps each instance's encoded state from one snapshot to the next until a reply
/// handler sets the state again. Whatever the history, the snapshot it writes must be the one a
/// fresh fold of the same events gives.
@Suite struct SnapshotStateCacheTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    /// A reply to `command`, success or failure at random.
    func reply(to command: RuntimeCommand, orderId: String, using random: inout some RandomNumberGenerator) throws -> (type: String, payload: [UInt8]) {
        func encoded<M: SagaMessage>(_ message: M) throws -> (type: String, payload: [UInt8]) {
            (M.messageType, Array(try JSONEncoder().encode(message)))
        }
        let fails = Int.random(in: 0..<4, using: &random) == 0
        switch command.envelope.type {
        case CreateOrder.messageType: return try fails ? encoded(OrderRejected(reason: "no")) : encoded(OrderCreated(orderId: orderId))
        case CancelOrder.messageType: return try encoded(OrderCancelled(orderId: orderId))
        case ReserveInventory.messageType:
            return try fails ? encoded(OutOfStock(orderId: orderId, sku: "s-\(Int.random(in: 0..<9, using: &random))"))
                : encoded(InventoryReserved(orderId: orderId, reservationId: "r-\(Int.random(in: 0..<999, using: &random))"))
        case ReleaseInventory.messageType: return try encoded(InventoryReleased(orderId: orderId))
        case ProcessPayment.messageType:
            return try fails ? encoded(PaymentDeclined(reason: "r\(Int.random(in: 0..<9, using: &random))"))
                : encoded(PaymentProcessed(paymentId: "p-\(Int.random(in: 0..<999, using: &random))"))
        case RefundPayment.messageType: return try encoded(PaymentRefunded(orderId: orderId))
        case ConfirmOrder.messageType: return try fails ? encoded(OrderConfirmationFailed(reason: "late")) : encoded(OrderConfirmed(orderId: orderId))
        case NotifyCustomer.messageType: return try fails ? encoded(NotificationFailed()) : encoded(CustomerNotified())
        default: throw SagaError(.unknownStep, "no reply for \(command.envelope.type)")
        }
    }

    @Test func snapshotsMatchAFreshFoldWhateverTheHistory() async throws {
        var random = SystemRandomNumberGenerator()
        var registry = SagaRegistry()
        try registry.register(placeOrder)
        let definition = try registry.latest(name: "PlaceOrder")
        for run in 0..<200 {
            // Seconds of CPU in a debug build: other suites' tasks get the thread now and then
            // (`PropertyTests.randomHistoriesKeepTheInvariants(batch:)` says why).
            if run % 20 == 19 { await Task.yield() }
            let sagaId = "saga-\(run)"
            let orderId = "o-\(run)"
            let request = PlaceOrderRequest(orderId: orderId, customerId: "c", lines: [], amountCents: run)
            var decision = try definition.decide(
                definition.newInstance(sagaId: sagaId),
                .start(envelope: MessageEnvelope(id: "req-\(run)", source: "t", type: PlaceOrderRequest.messageType, time: now),
                       payload: Array(try JSONEncoder().encode(request))),
                now: now)
            var events = decision.events
            var outstanding = decision.commands
            var replies = 0
            while !outstanding.isEmpty, replies < 20 {
                let command = outstanding.removeFirst()
                let (type, payload) = try reply(to: command, orderId: orderId, using: &random)
                replies += 1
                let envelope = MessageEnvelope(
                    id: "reply-\(run)-\(replies)", source: "t", type: type, time: now, sagaId: sagaId,
                    sagaType: "PlaceOrder", sagaStep: command.envelope.sagaStep, causationId: command.id)
                decision = try definition.decide(decision.instance, .message(envelope: envelope, payload: payload), now: now)
                events += decision.events
                outstanding += decision.commands
                let fresh = try definition.snapshot(of: definition.load(sagaId: sagaId, events: events))
                #expect(decision.snapshot == fresh, "run \(run), after \(type)")
                #expect(decision.snapshot.state == fresh.state)
            }
        }
    }
}
