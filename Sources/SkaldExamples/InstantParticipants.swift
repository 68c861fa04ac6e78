import Foundation
public import Logging
import Skald
import SkaldRuntime
public import SkaldKafka
import Synchronization

/// In-process stand-ins for the order, inventory, payment and notification services,
/// answering at once: for tests and benchmarks of the orchestrator alone.
///
/// Each applies an operation once per order (a second delivery of the same command,
/// or a retry of it, changes nothing), records the effect in a ledger, and replies on
/// `skald.replies` by ``Fate/init(order:)``, a rule of the order number.
public final class InstantParticipants: Sendable {
    /// The command topics they consume.
    public static let topics = ["orders.commands", "inventory.commands", "payments.commands", "notifications.commands"]

    /// Creates participants with an empty ledger.
    public init() {}

    private let ledger = Mutex<[String: Int]>([:])
    private let deliveries = Atomic<Int>(0)
    private let absorbed = Atomic<Int>(0)
    private let lastSteps = Atomic<Int>(0)

    /// How the rule treats an order.
    public enum Fate: Equatable, Sendable {
        /// Every step succeeds.
        case completes
        /// The inventory service answers OutOfStock.
        case outOfStock
        /// The payment service declines.
        case paymentDeclined

        /// `n % 20 == 7` is out of stock, `n % 10 == 3` has its payment declined, the rest complete.
        public init(order number: Int) {
            if number % 20 == 7 {
                self = .outOfStock
            } else if number % 10 == 3 {
                self = .paymentDeclined
            } else {
                self = .completes
            }
        }
    }

    /// Effects of `operation` (`create`, `reserve`, `pay`, `confirm`, `notify`, `release`,
    /// `refund`, `cancel`) applied for `orderId`: 0 or 1.
    public func effects(_ orderId: String, _ operation: String) -> Int {
        ledger.withLock { $0["\(orderId)/\(operation)", default: 0] }
    }

    /// Commands received, and those that changed nothing because the order had them already.
    /// Orders whose saga reached its last step here: notified (completed) or cancelled
    /// (compensated). The saga ends when the orchestrator applies that reply, a moment later;
    /// counting here lets a benchmark follow progress without querying Postgres.
    public var ordersAtLastStep: Int {
        lastSteps.load(ordering: .relaxed)
    }

    public var stats: (deliveries: Int, absorbed: Int) {
        (deliveries.load(ordering: .relaxed), absorbed.load(ordering: .relaxed))
    }

    /// Consumes commands and replies until cancelled.
    public func run(kafka: KafkaConfiguration, group: String, logger: Logger) async throws {
        var consumerConfiguration = kafka
        consumerConfiguration.groupID = group
        // Offsets stored after the replies are delivered go out with the auto-commit.
        consumerConfiguration.commitStoredOffsetsAutomatically()
        let consumer = try KafkaConsumer(configuration: consumerConfiguration, topics: Self.topics, logger: logger)
        let producer = try KafkaProducer(configuration: kafka, logger: logger)
        try await withTaskCancellationHandler {
            let profile = PhaseProfile.shared
            var phase = profile.start()
            while let batch = try await consumer.nextBatch(maxCount: 500) {
                profile.record("participants.wait", since: phase, size: batch.count)
                phase = profile.start()
                var replies: [KafkaOutgoingMessage] = []
                for message in batch {
                    if let reply = try handle(message) { replies.append(reply) }
                }
                profile.record("participants.handle", since: phase, size: batch.count)
                phase = profile.start()
                var pending = replies
                while !pending.isEmpty {
                    let results = try await producer.send(pending)
                    pending = zip(pending, results).compactMap { message, result in
                        if case .failure = result { return message } else { return nil }
                    }
                }
                profile.record("participants.produce", since: phase, size: replies.count)
                phase = profile.start()
                try consumer.storeOffsets(for: batch)
                phase = profile.start()
            }
        } onCancel: {
            Task { try? await consumer.close() }
        }
        await producer.shutdown()
    }

    private func apply(_ orderId: String, _ operation: String) {
        let first = ledger.withLock { ledger -> Bool in
            let key = "\(orderId)/\(operation)"
            if ledger[key] != nil { return false }
            ledger[key] = 1
            return true
        }
        if !first { absorbed.add(1, ordering: .relaxed) }
        if first, operation == "notify" || operation == "cancel" { lastSteps.add(1, ordering: .relaxed) }
    }

    private func handle(_ message: KafkaMessage) throws -> KafkaOutgoingMessage? {
        deliveries.add(1, ordering: .relaxed)
        let command = try MessageEnvelope(kafkaHeaders: message.headers)
        let body = message.value
        let reply: any SagaMessage
        switch command.type {
        case CreateOrder.messageType:
            let create = try SkaldJSON.decode(CreateOrder.self, from: body)
            apply(create.orderId, "create")
            reply = OrderCreated(orderId: create.orderId)
        case CancelOrder.messageType:
            let cancel = try SkaldJSON.decode(CancelOrder.self, from: body)
            apply(cancel.orderId, "cancel")
            reply = OrderCancelled(orderId: cancel.orderId)
        case ConfirmOrder.messageType:
            let confirm = try SkaldJSON.decode(ConfirmOrder.self, from: body)
            apply(confirm.orderId, "confirm")
            reply = OrderConfirmed(orderId: confirm.orderId)
        case ReserveInventory.messageType:
            let reserve = try SkaldJSON.decode(ReserveInventory.self, from: body)
            if Fate(order: Self.number(reserve.orderId)) == .outOfStock {
                reply = OutOfStock(orderId: reserve.orderId, sku: reserve.lines.first?.sku ?? "?")
            } else {
                apply(reserve.orderId, "reserve")
                reply = InventoryReserved(orderId: reserve.orderId, reservationId: "r-\(reserve.orderId)")
            }
        case ReleaseInventory.messageType:
            let release = try SkaldJSON.decode(ReleaseInventory.self, from: body)
            apply(release.orderId, "release")
            reply = InventoryReleased(orderId: release.orderId)
        case ProcessPayment.messageType:
            let payment = try SkaldJSON.decode(ProcessPayment.self, from: body)
            if Fate(order: Self.number(payment.orderId)) == .paymentDeclined {
                reply = PaymentDeclined(reason: "insufficient funds")
            } else {
                apply(payment.orderId, "pay")
                reply = PaymentProcessed(paymentId: "p-\(payment.orderId)")
            }
        case RefundPayment.messageType:
            let refund = try SkaldJSON.decode(RefundPayment.self, from: body)
            apply(refund.orderId, "refund")
            reply = PaymentRefunded(orderId: refund.orderId)
        case NotifyCustomer.messageType:
            // The notification carries no order id; the saga id is `PlaceOrder-<orderId>`.
            guard let sagaId = command.sagaId, sagaId.hasPrefix("PlaceOrder-") else { return nil }
            apply(String(sagaId.dropFirst("PlaceOrder-".count)), "notify")
            reply = CustomerNotified()
        default:
            return nil
        }
        let envelope = MessageEnvelope(
            id: "reply:\(command.id)", source: "test-participants", type: type(of: reply).messageType, time: Date(),
            sagaId: command.sagaId, sagaType: command.sagaType, sagaStep: command.sagaStep, causationId: command.id
        )
        return KafkaOutgoingMessage(
            topic: "skald.replies", key: message.key, value: try SkaldJSON.encode(reply),
            headers: KafkaHeaders(envelope)
        )
    }

    /// The number in `order-<n>`: the last part between dashes (trailing dashes ignored), or -1
    /// when that part is not a number.
    public static func number(_ orderId: String) -> Int {
        // Without `split`, which built an array of substrings for every command.
        let utf8 = orderId.utf8
        guard let last = utf8.lastIndex(where: { $0 != UInt8(ascii: "-") }) else { return -1 }
        let end = utf8.index(after: last)
        let start = utf8[..<end].lastIndex(of: UInt8(ascii: "-")).map(utf8.index(after:)) ?? utf8.startIndex
        return Int(orderId[start..<end]) ?? -1
    }
}
