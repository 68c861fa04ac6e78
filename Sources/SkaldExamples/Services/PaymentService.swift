import Skald
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

    /// Its keys compare byte by byte, whatever the database's collation, as the saga store's
    /// do (`schemas/postgres/0009_bytewise_keys.sql` says why).
    public var tablesChanges: [ServiceTablesChange] {
        [
            ServiceTablesChange(name: "bytewise_keys", sql: """
                SET LOCAL lock_timeout = '10s';
                ALTER TABLE accounts ALTER COLUMN customer_id TYPE text COLLATE "C";
                ALTER TABLE payments ALTER COLUMN order_id TYPE text COLLATE "C", ALTER COLUMN customer_id TYPE text COLLATE "C";
                """)
        ]
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

    /// The commands it handles.
    private enum Command {
        case process(ProcessPayment)
        case refund(RefundPayment)
    }

    /// Handles ProcessPayment and RefundPayment, a batch in two round trips whatever its size.
    ///
    /// 1. One pipeline reads the batch's payments and the balances of every account they touch
    ///    (the payers, and the accounts of charges that may be refunded), both locked, in key
    ///    order so that two batches cannot deadlock.
    /// 2. ``PaymentLedger`` decides each command in order, in memory.
    /// 3. One pipeline inserts the new payment rows, updates the refunded ones and moves the
    ///    balances.
    ///
    /// The accounts read takes the customers of all the orders' payments, not only the charged
    /// ones: with `status = 'charged'` the planner may pick the partial index
    /// `payments_by_customer` and filter every charged payment through the order-id array. The
    /// connection prepares the statement, and a generic plan made while the table was small kept
    /// doing that as it grew: 60 ms per batch by the end of a 20,000-saga burst, the costliest
    /// statement of the run. An account locked needlessly (a refunded payer's) costs nothing.
    ///
    /// A payment row that appeared between the read and the write (the same order paid through
    /// another command id, on another instance during a rebalance) makes the insert fail on
    /// the primary key; the batch is then applied one command at a time, and that command's
    /// read sees the row.
    public func handle(
        _ commands: [ServiceCommand], on connection: isolated PostgresConnection, behaviour: ServiceBehaviour
    ) async throws -> [CommandOutcome] {
        var batch = DecodedBatch(commands) { command -> Command? in
            switch command.envelope.type {
            case ProcessPayment.messageType:
                let payment = try command.decode(ProcessPayment.self)
                // The sender's bug, not a decline: no reply, and its saga's step timeout takes over.
                guard payment.amountCents >= 0 else {
                    throw ExampleServiceError("command \(command.envelope.id) asks for a negative payment")
                }
                return .process(payment)
            case RefundPayment.messageType: return .refund(try command.decode(RefundPayment.self))
            default: return nil
            }
        }
        guard !batch.commands.isEmpty else { return batch.results }
        var orderIds = PostgresArrayWriter(of: .text)
        var payers = PostgresArrayWriter(of: .text)
        for (_, command) in batch.commands {
            switch command {
            case .process(let payment):
                orderIds.append(payment.orderId)
                payers.append(payment.customerId)
            case .refund(let refund):
                orderIds.append(refund.orderId)
            }
        }
        let read = try connection.pipeline([
            """
            SELECT order_id, customer_id, amount_cents, status, reason FROM payments
            WHERE order_id = ANY(\(orderIds.value)::text[]) ORDER BY order_id FOR UPDATE
            """,
            """
            SELECT customer_id, balance FROM accounts
            WHERE customer_id IN (
                SELECT unnest(\(payers.value)::text[])
                UNION SELECT customer_id FROM payments WHERE order_id = ANY(\(orderIds.value)::text[])
            )
            ORDER BY customer_id FOR UPDATE
            """,
        ])
        var payments: [String: PaymentLedger.Payment] = [:]
        for row in read[0] {
            let (orderId, customerId, amount, status, reason) = try row.decode((String, String, Int, String, String?).self)
            guard let status = PaymentLedger.Status(rawValue: status) else {
                throw ExampleServiceError("payment \(orderId) has an unknown status \(status)")
            }
            payments[orderId] = .init(customerId: customerId, amountCents: amount, status: status, reason: reason)
        }
        var balances: [String: Int] = [:]
        for row in read[1] {
            let (customerId, balance) = try row.decode((String, Int).self)
            balances[customerId] = balance
        }
        var ledger = PaymentLedger(payments: payments, balances: balances)
        for (index, command) in batch.commands {
            switch command {
            case .process(let payment):
                batch.answer(index, with: ledger.process(payment, declinedByRate: behaviour.fails(payment.orderId)))
            case .refund(let refund):
                batch.answer(index, with: ledger.refund(refund))
            }
        }
        try write(ledger, on: connection)
        return batch.results
    }

    /// Writes what `ledger` changed, in one round trip.
    private func write(_ ledger: PaymentLedger, on connection: isolated PostgresConnection) throws {
        var writes: [PostgresQuery] = []
        let new = ledger.newPayments
        if !new.isEmpty {
            var orderIds = PostgresArrayWriter(of: .text, capacity: new.count)
            var customers = PostgresArrayWriter(of: .text, capacity: new.count)
            var amounts = PostgresArrayWriter(of: .int8, capacity: new.count)
            var statuses = PostgresArrayWriter(of: .text, capacity: new.count)
            var reasons = PostgresArrayWriter(of: .text, capacity: new.count)
            for (orderId, payment) in new {
                orderIds.append(orderId)
                customers.append(payment.customerId)
                amounts.append(payment.amountCents)
                statuses.append(payment.status.rawValue)
                reasons.append(payment.reason)
            }
            writes.append(
                """
                INSERT INTO payments (order_id, customer_id, amount_cents, status, reason)
                SELECT * FROM unnest(
                    \(orderIds.value)::text[], \(customers.value)::text[], \(amounts.value)::bigint[],
                    \(statuses.value)::text[], \(reasons.value)::text[])
                """)
        }
        let changed = ledger.changedPayments
        if !changed.isEmpty {
            var orderIds = PostgresArrayWriter(of: .text, capacity: changed.count)
            var statuses = PostgresArrayWriter(of: .text, capacity: changed.count)
            for (orderId, status) in changed {
                orderIds.append(orderId)
                statuses.append(status.rawValue)
            }
            writes.append(
                """
                UPDATE payments SET status = changed.status, updated_at = now()
                FROM unnest(\(orderIds.value)::text[], \(statuses.value)::text[]) AS changed(order_id, status)
                WHERE payments.order_id = changed.order_id
                """)
        }
        let moves = ledger.balanceChanges
        if !moves.isEmpty {
            var customers = PostgresArrayWriter(of: .text, capacity: moves.count)
            var deltas = PostgresArrayWriter(of: .int8, capacity: moves.count)
            for (customerId, delta) in moves {
                customers.append(customerId)
                deltas.append(delta)
            }
            writes.append(
                """
                UPDATE accounts SET balance = accounts.balance + moved.delta
                FROM unnest(\(customers.value)::text[], \(deltas.value)::bigint[]) AS moved(customer_id, delta)
                WHERE accounts.customer_id = moved.customer_id
                """)
        }
        if !writes.isEmpty { _ = try connection.pipeline(writes) }
    }
}
