public import Skald
public import SkaldPostgres

/// payment-service: owns customer accounts and the payments charged to them.
///
/// `ProcessPayment` charges the customer's account, or declines when the balance is
/// short, the account unknown, or the configured decline rate picks the order;
/// `RefundPayment` gives a charge back. For every account at any moment:
/// `initial_balance = balance + charged amounts`.
public struct PaymentService: CommandHandler {
    /// Creates the handler.
    public init() {}

    /// `payment`.
    public var serviceName: String { "payment" }
    /// `payments`.
    public var defaultSchema: String { "payments" }
    /// `payments.commands`.
    public var commandsTopic: String { "payments.commands" }

    /// Accounts and payments.
    public var tablesSQL: String {
        """
        CREATE TABLE accounts (
            customer_id     text   PRIMARY KEY,
            initial_balance bigint NOT NULL CHECK (initial_balance >= 0),
            balance         bigint NOT NULL CHECK (balance >= 0)
        );

        -- One row per order: charged, refunded, or declined (amount 0). A refund that comes
        -- before any payment leaves a 'refunded' row of amount 0, so a late payment is declined.
        CREATE TABLE payments (
            order_id     text        PRIMARY KEY,
            customer_id  text        NOT NULL,
            amount_cents bigint      NOT NULL CHECK (amount_cents >= 0),
            status       text        NOT NULL CHECK (status IN ('charged', 'refunded', 'declined')),
            reason       text,
            updated_at   timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX payments_by_customer ON payments (customer_id) WHERE status = 'charged';
        """
    }

    /// Opens accounts that do not exist yet with the given balances in cents (for demos and tests).
    public static func seed(accounts: [String: Int], on connection: PostgresConnection) async throws {
        try await connection.withTransaction { connection in
            for (customer, balance) in accounts.sorted(by: { $0.key < $1.key }) {
                _ = try await connection.execute(
                    """
                    INSERT INTO accounts (customer_id, initial_balance, balance) VALUES (\(customer), \(balance), \(balance))
                    ON CONFLICT (customer_id) DO NOTHING
                    """
                )
            }
        }
    }

    /// Handles ProcessPayment and RefundPayment.
    public func handle(
        _ command: ServiceCommand, on connection: isolated PostgresConnection, behaviour: ServiceBehaviour
    ) async throws -> (any SagaMessage)? {
        switch command.envelope.type {
        case ProcessPayment.messageType:
            return try process(try command.decode(ProcessPayment.self), on: connection, behaviour: behaviour)
        case RefundPayment.messageType:
            let refund = try command.decode(RefundPayment.self)
            // One statement: refund the charge, credit the account, and block a payment that
            // has not arrived yet (ON CONFLICT: a payment row, charged or not, stays as it is).
            _ = try connection.execute(
                """
                WITH refunded AS (
                    UPDATE payments SET status = 'refunded', updated_at = now()
                    WHERE order_id = \(refund.orderId) AND status = 'charged'
                    RETURNING customer_id, amount_cents
                ),
                credited AS (
                    UPDATE accounts SET balance = accounts.balance + r.amount_cents
                    FROM refunded AS r WHERE accounts.customer_id = r.customer_id
                )
                INSERT INTO payments (order_id, customer_id, amount_cents, status, reason)
                VALUES (\(refund.orderId), '', 0, 'refunded', 'refund before payment')
                ON CONFLICT (order_id) DO NOTHING
                """
            )
            return PaymentRefunded(orderId: refund.orderId)
        default:
            return nil
        }
    }

    /// Two round trips: the order's payment so far and the customer's balance (locked) in one
    /// pipeline, then one statement that charges or records the decline.
    private func process(
        _ payment: ProcessPayment, on connection: isolated PostgresConnection, behaviour: ServiceBehaviour
    ) throws -> any SagaMessage {
        let read = try connection.pipeline([
            "SELECT status, coalesce(reason, '') FROM payments WHERE order_id = \(payment.orderId)",
            "SELECT balance FROM accounts WHERE customer_id = \(payment.customerId) FOR UPDATE",
        ])
        if let (status, reason) = try read[0].first.map({ try $0.decode((String, String).self) }) {
            return status == "charged"
                ? PaymentProcessed(paymentId: "pay-\(payment.orderId)")
                : PaymentDeclined(reason: status == "refunded" ? "already refunded" : reason)
        }
        let balance = try read[1].first?.decode(Int.self, at: 0)
        let declineReason: String?
        if behaviour.fails(payment.orderId) {
            declineReason = "declined by the configured decline rate"
        } else if let balance {
            declineReason = balance < payment.amountCents ? "insufficient funds" : nil
        } else {
            declineReason = "no account for \(payment.customerId)"
        }
        if let declineReason {
            _ = try connection.execute(
                """
                INSERT INTO payments (order_id, customer_id, amount_cents, status, reason)
                VALUES (\(payment.orderId), \(payment.customerId), 0, 'declined', \(declineReason))
                """
            )
            return PaymentDeclined(reason: declineReason)
        }
        _ = try connection.execute(
            """
            WITH charged AS (
                UPDATE accounts SET balance = balance - \(payment.amountCents) WHERE customer_id = \(payment.customerId)
            )
            INSERT INTO payments (order_id, customer_id, amount_cents, status)
            VALUES (\(payment.orderId), \(payment.customerId), \(payment.amountCents), 'charged')
            """
        )
        return PaymentProcessed(paymentId: "pay-\(payment.orderId)")
    }
}
