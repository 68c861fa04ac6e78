public import Skald

// MARK: The saga

/// The PlaceOrder saga: create order → reserve inventory → process payment → confirm order (pivot)
/// → notify customer (retriable), compensated in reverse when a step before the pivot fails.
public let placeOrder = SagaDefinition("PlaceOrder", version: 1, state: PlaceOrderState.self) {
    Step("create-order") {
        Command(to: "orders.commands") { state in
            CreateOrder(orderId: state.orderId, customerId: state.customerId, lines: state.lines)
        }
        OnSuccess(OrderCreated.self)
        OnFailure(OrderRejected.self) { state, reply in state.failure = reply.reason }
        // A confirmed order is never cancelled behind the customer's back: the refusal is a
        // failed compensation, retried and then left to an operator.
        Compensation(to: "orders.commands", confirmedBy: OrderCancelled.self, rejectedBy: OrderCancellationRefused.self) { state in
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
