import Skald

/// The payment service's rows that one batch of commands touches, and its decisions on them:
/// pure, so a batch is decided in memory between one read and one write.
///
/// Load it with the batch's payments (by order) and the balances of the accounts involved
/// (locked), apply the commands in order, then write ``newPayments``, ``changedPayments`` and
/// ``balanceChanges``. Every decision is the one the command would get alone, against the
/// rows as the earlier commands of the batch left them.
struct PaymentLedger: Sendable {
    /// What a payment row can say.
    enum Status: String, Sendable {
        case charged, refunded, declined
    }

    /// One row of `payments`.
    struct Payment: Sendable, Equatable {
        var customerId: String
        var amountCents: Int
        var status: Status
        var reason: String?
    }

    /// The payments read or written, by order id.
    private(set) var payments: [String: Payment]
    /// The balances of the locked accounts, as the batch leaves them.
    private(set) var balances: [String: Int]
    /// Order ids of rows that were not there when the batch read, in the order they appeared.
    private(set) var newOrderIds: [String] = []
    /// Order ids of rows that were there and changed status, in the order they changed.
    private(set) var changedOrderIds: [String] = []
    private var balanceDeltas: [String: Int] = [:]
    private var loaded: Set<String>

    /// A ledger over `payments` (by order id) and the locked `balances` (by customer).
    init(payments: [String: Payment], balances: [String: Int]) {
        self.payments = payments
        self.balances = balances
        loaded = Set(payments.keys)
    }

    /// Charges the order's customer, or declines.
    ///
    /// A payment seen before is answered as it went (a refund before it declines it); an
    /// account that is not there, a short balance or `declinedByRate` declines it.
    mutating func process(_ payment: ProcessPayment, declinedByRate: Bool) -> any SagaMessage {
        if let existing = payments[payment.orderId] {
            switch existing.status {
            case .charged: return PaymentProcessed(paymentId: "pay-\(payment.orderId)")
            case .refunded: return PaymentDeclined(reason: "already refunded")
            case .declined: return PaymentDeclined(reason: existing.reason ?? "")
            }
        }
        let declineReason: String?
        if declinedByRate {
            declineReason = "declined by the configured decline rate"
        } else if let balance = balances[payment.customerId] {
            declineReason = balance < payment.amountCents ? "insufficient funds" : nil
        } else {
            declineReason = "no account for \(payment.customerId)"
        }
        if let declineReason {
            insert(
                Payment(customerId: payment.customerId, amountCents: 0, status: .declined, reason: declineReason),
                for: payment.orderId)
            return PaymentDeclined(reason: declineReason)
        }
        // The balance check above found the account.
        balances[payment.customerId, default: 0] -= payment.amountCents
        balanceDeltas[payment.customerId, default: 0] -= payment.amountCents
        insert(
            Payment(customerId: payment.customerId, amountCents: payment.amountCents, status: .charged, reason: nil),
            for: payment.orderId)
        return PaymentProcessed(paymentId: "pay-\(payment.orderId)")
    }

    /// Gives a charge back; a refund before any payment leaves a row that declines a late one.
    mutating func refund(_ refund: RefundPayment) -> any SagaMessage {
        switch payments[refund.orderId] {
        case nil:
            insert(
                Payment(customerId: "", amountCents: 0, status: .refunded, reason: "refund before payment"),
                for: refund.orderId)
        case var payment? where payment.status == .charged:
            payment.status = .refunded
            balances[payment.customerId, default: 0] += payment.amountCents
            balanceDeltas[payment.customerId, default: 0] += payment.amountCents
            update(payment, for: refund.orderId)
        case .some:
            break
        }
        return PaymentRefunded(orderId: refund.orderId)
    }

    /// The rows to insert, in the order they appeared, with their final state.
    var newPayments: [(orderId: String, payment: Payment)] {
        newOrderIds.map { ($0, payments[$0]!) }
    }

    /// The rows that were there and changed, with their final state.
    var changedPayments: [(orderId: String, status: Status)] {
        changedOrderIds.map { ($0, payments[$0]!.status) }
    }

    /// How much each account's balance moved, for the accounts that moved, sorted by customer.
    var balanceChanges: [(customerId: String, delta: Int)] {
        balanceDeltas.filter { $0.value != 0 }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    private mutating func insert(_ payment: Payment, for orderId: String) {
        payments[orderId] = payment
        newOrderIds.append(orderId)
    }

    private mutating func update(_ payment: Payment, for orderId: String) {
        payments[orderId] = payment
        // A row this batch inserted is inserted as it ends. A row that was read changes at most
        // once (charged to refunded), so it is listed once.
        if loaded.contains(orderId) { changedOrderIds.append(orderId) }
    }
}
