public import Skald

// The messages of the PlaceOrder example: what the orchestrator sends to the order,
// inventory, payment and notification services, and what they answer.

/// `OrderLine` of the PlaceOrder example.
public struct OrderLine: Codable, Sendable, Equatable {
    /// The sku.
    public var sku: String
    /// The quantity.
    public var quantity: Int

    /// Creates the message.
    public init(sku: String, quantity: Int) {
        self.sku = sku
        self.quantity = quantity
    }
}

// MARK: Start

/// `PlaceOrderRequest` of the PlaceOrder example.
public struct PlaceOrderRequest: SagaMessage {
    /// Its stable `ce_type`.
    public static let messageType = "com.example.orders.PlaceOrder"
    /// The orderId.
    public var orderId: String
    /// The customerId.
    public var customerId: String
    /// The lines.
    public var lines: [OrderLine]
    /// The amountCents.
    public var amountCents: Int

    /// Creates the message.
    public init(orderId: String, customerId: String, lines: [OrderLine], amountCents: Int) {
        self.orderId = orderId
        self.customerId = customerId
        self.lines = lines
        self.amountCents = amountCents
    }
}

/// `OrderCreatedEvent` of the PlaceOrder example.
public struct OrderCreatedEvent: SagaMessage {
    /// Its stable `ce_type`.
    public static let messageType = "com.example.orders.OrderCreated"
    /// The orderId.
    public var orderId: String
    /// The customerId.
    public var customerId: String
    /// The lines.
    public var lines: [OrderLine]
    /// The amountCents.
    public var amountCents: Int

    /// Creates the message.
    public init(orderId: String, customerId: String, lines: [OrderLine], amountCents: Int) {
        self.orderId = orderId
        self.customerId = customerId
        self.lines = lines
        self.amountCents = amountCents
    }
}

// MARK: Commands

/// `CreateOrder` of the PlaceOrder example.
public struct CreateOrder: SagaMessage {
    /// Its stable `ce_type`.
    public static let messageType = "com.example.orders.CreateOrder"
    /// The orderId.
    public var orderId: String
    /// The customerId.
    public var customerId: String
    /// The lines.
    public var lines: [OrderLine]

    /// Creates the message.
    public init(orderId: String, customerId: String, lines: [OrderLine]) {
        self.orderId = orderId
        self.customerId = customerId
        self.lines = lines
    }
}

/// `CancelOrder` of the PlaceOrder example.
public struct CancelOrder: SagaMessage {
    /// Its stable `ce_type`.
    public static let messageType = "com.example.orders.CancelOrder"
    /// The orderId.
    public var orderId: String

    /// Creates the message.
    public init(orderId: String) {
        self.orderId = orderId
    }
}

/// `ConfirmOrder` of the PlaceOrder example.
public struct ConfirmOrder: SagaMessage {
    /// Its stable `ce_type`.
    public static let messageType = "com.example.orders.ConfirmOrder"
    /// The orderId.
    public var orderId: String

    /// Creates the message.
    public init(orderId: String) {
        self.orderId = orderId
    }
}

/// `ReserveInventory` of the PlaceOrder example.
public struct ReserveInventory: SagaMessage {
    /// Its stable `ce_type`.
    public static let messageType = "com.example.inventory.ReserveInventory"
    /// The orderId.
    public var orderId: String
    /// The lines.
    public var lines: [OrderLine]

    /// Creates the message.
    public init(orderId: String, lines: [OrderLine]) {
        self.orderId = orderId
        self.lines = lines
    }
}

/// `ReleaseInventory` of the PlaceOrder example.
public struct ReleaseInventory: SagaMessage {
    /// Its stable `ce_type`.
    public static let messageType = "com.example.inventory.ReleaseInventory"
    /// The orderId.
    public var orderId: String

    /// Creates the message.
    public init(orderId: String) {
        self.orderId = orderId
    }
}

/// `ProcessPayment` of the PlaceOrder example.
public struct ProcessPayment: SagaMessage {
    /// Its stable `ce_type`.
    public static let messageType = "com.example.payments.ProcessPayment"
    /// The orderId.
    public var orderId: String
    /// The customerId.
    public var customerId: String
    /// The amountCents.
    public var amountCents: Int

    /// Creates the message.
    public init(orderId: String, customerId: String, amountCents: Int) {
        self.orderId = orderId
        self.customerId = customerId
        self.amountCents = amountCents
    }
}

/// `RefundPayment` of the PlaceOrder example.
public struct RefundPayment: SagaMessage {
    /// Its stable `ce_type`.
    public static let messageType = "com.example.payments.RefundPayment"
    /// The orderId.
    public var orderId: String
    /// The paymentId.
    public var paymentId: String?

    /// Creates the message.
    public init(orderId: String, paymentId: String?) {
        self.orderId = orderId
        self.paymentId = paymentId
    }
}

/// `NotifyCustomer` of the PlaceOrder example.
public struct NotifyCustomer: SagaMessage {
    /// Its stable `ce_type`.
    public static let messageType = "com.example.notifications.NotifyCustomer"
    /// The customerId.
    public var customerId: String
    /// The text.
    public var text: String

    /// Creates the message.
    public init(customerId: String, text: String) {
        self.customerId = customerId
        self.text = text
    }
}

// MARK: Replies

/// `OrderCreated` of the PlaceOrder example.
public struct OrderCreated: SagaMessage {
    /// Its stable `ce_type`.
    public static let messageType = "com.example.orders.OrderCreatedReply"
    /// The orderId.
    public var orderId: String

    /// Creates the message.
    public init(orderId: String) {
        self.orderId = orderId
    }
}

/// `OrderRejected` of the PlaceOrder example.
public struct OrderRejected: SagaMessage {
    /// Its stable `ce_type`.
    public static let messageType = "com.example.orders.OrderRejected"
    /// The reason.
    public var reason: String

    /// Creates the message.
    public init(reason: String) {
        self.reason = reason
    }
}

/// `OrderCancelled` of the PlaceOrder example.
public struct OrderCancelled: SagaMessage {
    /// Its stable `ce_type`.
    public static let messageType = "com.example.orders.OrderCancelled"
    /// The orderId.
    public var orderId: String

    /// Creates the message.
    public init(orderId: String) {
        self.orderId = orderId
    }
}

/// `OrderCancellationRefused` of the PlaceOrder example: the order cannot be cancelled
/// any more (it was confirmed), so the compensation failed and the saga needs an operator.
public struct OrderCancellationRefused: SagaMessage {
    /// Its stable `ce_type`.
    public static let messageType = "com.example.orders.OrderCancellationRefused"
    /// The orderId.
    public var orderId: String
    /// Why the order stays as it is.
    public var reason: String

    /// Creates the message.
    public init(orderId: String, reason: String) {
        self.orderId = orderId
        self.reason = reason
    }
}

/// `OrderConfirmed` of the PlaceOrder example.
public struct OrderConfirmed: SagaMessage {
    /// Its stable `ce_type`.
    public static let messageType = "com.example.orders.OrderConfirmed"
    /// The orderId.
    public var orderId: String

    /// Creates the message.
    public init(orderId: String) {
        self.orderId = orderId
    }
}

/// `OrderConfirmationFailed` of the PlaceOrder example.
public struct OrderConfirmationFailed: SagaMessage {
    /// Its stable `ce_type`.
    public static let messageType = "com.example.orders.OrderConfirmationFailed"
    /// The reason.
    public var reason: String

    /// Creates the message.
    public init(reason: String) {
        self.reason = reason
    }
}

/// `InventoryReserved` of the PlaceOrder example.
public struct InventoryReserved: SagaMessage {
    /// Its stable `ce_type`.
    public static let messageType = "com.example.inventory.InventoryReserved"
    /// The orderId.
    public var orderId: String
    /// The reservationId.
    public var reservationId: String

    /// Creates the message.
    public init(orderId: String, reservationId: String) {
        self.orderId = orderId
        self.reservationId = reservationId
    }
}

/// `OutOfStock` of the PlaceOrder example.
public struct OutOfStock: SagaMessage {
    /// Its stable `ce_type`.
    public static let messageType = "com.example.inventory.OutOfStock"
    /// The orderId.
    public var orderId: String
    /// The sku.
    public var sku: String

    /// Creates the message.
    public init(orderId: String, sku: String) {
        self.orderId = orderId
        self.sku = sku
    }
}

/// `InventoryReleased` of the PlaceOrder example.
public struct InventoryReleased: SagaMessage {
    /// Its stable `ce_type`.
    public static let messageType = "com.example.inventory.InventoryReleased"
    /// The orderId.
    public var orderId: String

    /// Creates the message.
    public init(orderId: String) {
        self.orderId = orderId
    }
}

/// `PaymentProcessed` of the PlaceOrder example.
public struct PaymentProcessed: SagaMessage {
    /// Its stable `ce_type`.
    public static let messageType = "com.example.payments.PaymentProcessed"
    /// The paymentId.
    public var paymentId: String

    /// Creates the message.
    public init(paymentId: String) {
        self.paymentId = paymentId
    }
}

/// `PaymentDeclined` of the PlaceOrder example.
public struct PaymentDeclined: SagaMessage {
    /// Its stable `ce_type`.
    public static let messageType = "com.example.payments.PaymentDeclined"
    /// The reason.
    public var reason: String

    /// Creates the message.
    public init(reason: String) {
        self.reason = reason
    }
}

/// `PaymentGatewayBusy` of the PlaceOrder example.
public struct PaymentGatewayBusy: SagaMessage {
    /// Its stable `ce_type`.
    public static let messageType = "com.example.payments.PaymentGatewayBusy"

    /// Creates the message.
    public init() {}
}

/// `PaymentRefunded` of the PlaceOrder example.
public struct PaymentRefunded: SagaMessage {
    /// Its stable `ce_type`.
    public static let messageType = "com.example.payments.PaymentRefunded"
    /// The orderId.
    public var orderId: String

    /// Creates the message.
    public init(orderId: String) {
        self.orderId = orderId
    }
}

/// `CustomerNotified` of the PlaceOrder example.
public struct CustomerNotified: SagaMessage {
    /// Its stable `ce_type`.
    public static let messageType = "com.example.notifications.CustomerNotified"

    /// Creates the message.
    public init() {}
}

/// `NotificationFailed` of the PlaceOrder example.
public struct NotificationFailed: SagaMessage {
    /// Its stable `ce_type`.
    public static let messageType = "com.example.notifications.NotificationFailed"

    /// Creates the message.
    public init() {}
}
