import Skald

// The PlaceOrder saga of the design, as a team would write it.

struct OrderLine: Codable, Sendable, Equatable {
    var sku: String
    var quantity: Int
}

// MARK: Start

struct PlaceOrderRequest: SagaMessage {
    static let messageType = "com.example.orders.PlaceOrder"
    var orderId: String
    var customerId: String
    var lines: [OrderLine]
    var amountCents: Int
}

struct OrderCreatedEvent: SagaMessage {
    static let messageType = "com.example.orders.OrderCreated"
    var orderId: String
    var customerId: String
    var lines: [OrderLine]
    var amountCents: Int
}

// MARK: Commands

struct CreateOrder: SagaMessage {
    static let messageType = "com.example.orders.CreateOrder"
    var orderId: String
    var customerId: String
    var lines: [OrderLine]
}

struct CancelOrder: SagaMessage {
    static let messageType = "com.example.orders.CancelOrder"
    var orderId: String
}

struct ConfirmOrder: SagaMessage {
    static let messageType = "com.example.orders.ConfirmOrder"
    var orderId: String
}

struct ReserveInventory: SagaMessage {
    static let messageType = "com.example.inventory.ReserveInventory"
    var orderId: String
    var lines: [OrderLine]
}

struct ReleaseInventory: SagaMessage {
    static let messageType = "com.example.inventory.ReleaseInventory"
    var orderId: String
}

struct ProcessPayment: SagaMessage {
    static let messageType = "com.example.payments.ProcessPayment"
    var orderId: String
    var customerId: String
    var amountCents: Int
}

struct RefundPayment: SagaMessage {
    static let messageType = "com.example.payments.RefundPayment"
    var orderId: String
    var paymentId: String?
}

struct NotifyCustomer: SagaMessage {
    static let messageType = "com.example.notifications.NotifyCustomer"
    var customerId: String
    var text: String
}

// MARK: Replies

struct OrderCreated: SagaMessage {
    static let messageType = "com.example.orders.OrderCreatedReply"
    var orderId: String
}

struct OrderRejected: SagaMessage {
    static let messageType = "com.example.orders.OrderRejected"
    var reason: String
}

struct OrderCancelled: SagaMessage {
    static let messageType = "com.example.orders.OrderCancelled"
    var orderId: String
}

struct OrderConfirmed: SagaMessage {
    static let messageType = "com.example.orders.OrderConfirmed"
    var orderId: String
}

struct OrderConfirmationFailed: SagaMessage {
    static let messageType = "com.example.orders.OrderConfirmationFailed"
    var reason: String
}

struct InventoryReserved: SagaMessage {
    static let messageType = "com.example.inventory.InventoryReserved"
    var orderId: String
    var reservationId: String
}

struct OutOfStock: SagaMessage {
    static let messageType = "com.example.inventory.OutOfStock"
    var orderId: String
    var sku: String
}

struct InventoryReleased: SagaMessage {
    static let messageType = "com.example.inventory.InventoryReleased"
    var orderId: String
}

struct PaymentProcessed: SagaMessage {
    static let messageType = "com.example.payments.PaymentProcessed"
    var paymentId: String
}

struct PaymentDeclined: SagaMessage {
    static let messageType = "com.example.payments.PaymentDeclined"
    var reason: String
}

struct PaymentGatewayBusy: SagaMessage {
    static let messageType = "com.example.payments.PaymentGatewayBusy"
}

struct PaymentRefunded: SagaMessage {
    static let messageType = "com.example.payments.PaymentRefunded"
    var orderId: String
}

struct CustomerNotified: SagaMessage {
    static let messageType = "com.example.notifications.CustomerNotified"
}

struct NotificationFailed: SagaMessage {
    static let messageType = "com.example.notifications.NotificationFailed"
}

// MARK: State

struct PlaceOrderState: Codable, Sendable, Equatable {
    var orderId: String
    var customerId: String
    var lines: [OrderLine]
    var amountCents: Int
    var reservationId: String?
    var paymentId: String?
    var failure: String?

    init(_ request: PlaceOrderRequest) {
        orderId = request.orderId
        customerId = request.customerId
        lines = request.lines
        amountCents = request.amountCents
    }

    init(_ event: OrderCreatedEvent) {
        orderId = event.orderId
        customerId = event.customerId
        lines = event.lines
        amountCents = event.amountCents
    }
}

// MARK: The saga

let placeOrder = SagaDefinition("PlaceOrder", version: 1, state: PlaceOrderState.self) {
    Step("create-order") {
        Command(to: "orders.commands") { state in
            CreateOrder(orderId: state.orderId, customerId: state.customerId, lines: state.lines)
        }
        OnSuccess(OrderCreated.self)
        OnFailure(OrderRejected.self) { state, reply in state.failure = reply.reason }
        Compensation(to: "orders.commands", confirmedBy: OrderCancelled.self) { state in
            CancelOrder(orderId: state.orderId)
        }
    }

    Step("reserve-inventory") {
        Command(to: "inventory.commands") { state in ReserveInventory(orderId: state.orderId, lines: state.lines) }
        OnSuccess(InventoryReserved.self) { state, reply in state.reservationId = reply.reservationId }
        OnFailure(OutOfStock.self) { state, reply in state.failure = "out of stock: \(reply.sku)" }
        Compensation(to: "inventory.commands", confirmedBy: InventoryReleased.self) { state in
            ReleaseInventory(orderId: state.orderId)
        }
    }
    .timeout(.seconds(10))

    Step("process-payment") {
        Command(to: "payments.commands") { state in
            ProcessPayment(orderId: state.orderId, customerId: state.customerId, amountCents: state.amountCents)
        }
        OnSuccess(PaymentProcessed.self) { state, reply in state.paymentId = reply.paymentId }
        OnFailure(PaymentDeclined.self) { state, reply in state.failure = reply.reason }
        OnFailure(PaymentGatewayBusy.self, retryable: true)
        Compensation(to: "payments.commands", confirmedBy: PaymentRefunded.self) { state in
            RefundPayment(orderId: state.orderId, paymentId: state.paymentId)
        }
    }
    .timeout(.seconds(20))
    .retry(.exponential(maxAttempts: 3, initial: .seconds(2), max: .seconds(30)))

    Step("confirm-order", kind: .pivot) {
        Command(to: "orders.commands") { state in ConfirmOrder(orderId: state.orderId) }
        OnSuccess(OrderConfirmed.self)
        OnFailure(OrderConfirmationFailed.self) { state, reply in state.failure = reply.reason }
    }

    Step("notify-customer", kind: .retriable) {
        Command(to: "notifications.commands") { state in
            NotifyCustomer(customerId: state.customerId, text: "Order \(state.orderId) is confirmed")
        }
        OnSuccess(CustomerNotified.self)
        OnFailure(NotificationFailed.self)
    }
    .retry(.exponential(maxAttempts: 5, initial: .seconds(5), max: .seconds(300)))
}
.startedBy(command: PlaceOrderRequest.self) { request in PlaceOrderState(request) }
.startedBy(event: OrderCreatedEvent.self, on: "orders.events", key: \.orderId) { event in PlaceOrderState(event) }
.businessKey(\.orderId)
.deadline(.seconds(15 * 60))
