import Skald

// MARK: State

/// `PlaceOrderState` of the PlaceOrder example.
public struct PlaceOrderState: Codable, Sendable, Equatable {
    /// The orderId.
    public var orderId: String
    /// The customerId.
    public var customerId: String
    /// The lines.
    public var lines: [OrderLine]
    /// The amountCents.
    public var amountCents: Int
    /// The reservationId.
    public var reservationId: String?
    /// The paymentId.
    public var paymentId: String?
    /// The failure.
    public var failure: String?

    /// Creates the state from the start message.
    public init(_ request: PlaceOrderRequest) {
        orderId = request.orderId
        customerId = request.customerId
        lines = request.lines
        amountCents = request.amountCents
    }

    /// Creates the state from the start message.
    public init(_ event: OrderCreatedEvent) {
        orderId = event.orderId
        customerId = event.customerId
        lines = event.lines
        amountCents = event.amountCents
    }
}
