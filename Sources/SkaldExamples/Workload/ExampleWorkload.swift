import Skald

/// The orders a demo or test run places, and the data the services need for them.
///
/// Fates follow ``InstantParticipants/Fate``: order `n` with `n % 20 == 7` asks for a
/// sold-out SKU (5 %), with `n % 10 == 3` belongs to a customer whose balance is too
/// small (10 %), and the rest complete. Ids carry the run id, so several runs can share
/// one database and each checks only its own orders.
public struct ExampleWorkload: Sendable {
    /// A short lower-case alphanumeric id of the run.
    public let runID: String
    /// How many orders it places (numbered 0 ..< orders).
    public let orders: Int

    /// Creates a workload.
    public init(runID: String, orders: Int) {
        self.runID = runID
        self.orders = orders
    }

    /// The id of order `number`: `order-<run>-<number>`.
    public func orderId(_ number: Int) -> String { "order-\(runID)-\(number)" }

    /// The prefix every order id of the run starts with.
    public var orderIdPrefix: String { "order-\(runID)-" }

    /// What becomes of order `number`.
    public static func fate(_ number: Int) -> InstantParticipants.Fate {
        InstantParticipants.Fate(order: number)
    }

    /// The `OrderCreated` event of order `number`, as order-service emits it.
    public func order(_ number: Int) -> OrderCreatedEvent {
        let fate = Self.fate(number)
        let customer = fate == .paymentDeclined ? "broke-\(runID)-\(number % 10)" : "customer-\(runID)-\(number % 50)"
        let sku = fate == .outOfStock ? "sold-out-\(runID)" : "sku-\(runID)-\(number % 7)"
        return OrderCreatedEvent(
            orderId: orderId(number), customerId: customer,
            lines: [OrderLine(sku: sku, quantity: 1 + number % 3)], amountCents: 500 + number % 1_000
        )
    }

    /// The starting stock: plenty of the seven regular SKUs, none of the sold-out one.
    public var stock: [String: Int] {
        var stock = ["sold-out-\(runID)": 0]
        for k in 0..<7 { stock["sku-\(runID)-\(k)"] = 3 * orders + 100 }
        return stock
    }

    /// The starting balances in cents: plenty for regular customers, 100 for the broke ones.
    public var accounts: [String: Int] {
        var accounts: [String: Int] = [:]
        for k in 0..<50 { accounts["customer-\(runID)-\(k)"] = 1_500 * orders + 10_000 }
        for k in 0..<10 { accounts["broke-\(runID)-\(k)"] = 100 }
        return accounts
    }

    /// How many orders should complete and how many should be compensated.
    public var expected: (completed: Int, compensated: Int) {
        let completed = (0..<orders).filter { Self.fate($0) == .completes }.count
        return (completed, orders - completed)
    }
}
