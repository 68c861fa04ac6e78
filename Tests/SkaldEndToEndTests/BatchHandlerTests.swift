import Foundation
import Skald
import SkaldExamples
import SkaldPostgres
import SkaldTestSupport
import Testing

/// The example services decide a whole batch between one read and one write. Random command
/// histories, applied once one command at a time and once in random batches (1 to 60), must
/// get the same answers and leave the same rows, with each service's ledger adding up.
///
/// One command at a time means two things, a seed each: the handlers as they were before they
/// took batches (`PerCommandReference.swift`, their own statements per command), on histories
/// they could take; and the shipped handlers with batches of one, on histories that also hold
/// what the old ones could not (negative amounts, quantities whose sum overflows).
@Suite("Example services: a batch answers as its commands would one at a time")
struct BatchHandlerTests {
    /// What the batches are compared with.
    enum Reference: Sendable, CustomTestStringConvertible {
        /// The handlers before session 14, a command at a time.
        case previousHandlers
        /// The shipped handlers, a command per batch.
        case batchesOfOne

        var testDescription: String { self == .previousHandlers ? "the per-command handlers" : "batches of one" }
    }

    /// Seeds and what each is compared with.
    static let cases: [(UInt64, Reference)] = [(1, .previousHandlers), (2, .previousHandlers), (3, .batchesOfOne)]

    /// Two fresh sets of service schemas: one fed a command at a time, one fed batches.
    struct Stores {
        let baseURL: String
        let single: String
        let batched: String

        init() async throws {
            baseURL = try TestPostgres.url()
            let tag = UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(8).lowercased()
            single = "bh\(tag)a_"
            batched = "bh\(tag)b_"
            try await ExampleServices.migrateAll(postgresURL: baseURL, schemaPrefix: single)
            try await ExampleServices.migrateAll(postgresURL: baseURL, schemaPrefix: batched)
        }

        func connect(_ prefix: String, _ schema: String) async throws -> PostgresConnection {
            try await PostgresConnection.connect(to: try PostgresSearchPath.url(baseURL, schema: prefix + schema))
        }
    }

    /// A command as the handler gets it; now and then an unreadable payload or an unknown type.
    static func command(_ message: some SagaMessage, id: String, saga: String, random: inout SplitMix64) throws -> ServiceCommand {
        let type = random.chance(2) ? "com.example.Unknown" : type(of: message).messageType
        let payload = random.chance(2) ? Array(#"{"orderId": 7}"#.utf8) : try SkaldJSON.encode(message)
        return ServiceCommand(
            envelope: MessageEnvelope(id: id, source: "test", type: type, sagaId: saga), payload: payload)
    }

    /// Applies `commands` in batches of the sizes `split` picks, each in its own transaction;
    /// every outcome in words.
    static func apply(
        _ commands: [ServiceCommand], with handler: some CommandHandler, behaviour: ServiceBehaviour,
        on connection: PostgresConnection, split: (Int) -> Int
    ) async throws -> [String] {
        var outcomes: [String] = []
        var start = 0
        while start < commands.count {
            let end = min(commands.count, start + max(1, split(commands.count - start)))
            let batch = Array(commands[start..<end])
            let answered = try await connection.withTransaction { connection in
                try await handler.handle(batch, on: connection, behaviour: behaviour)
            }
            #expect(answered.count == batch.count)
            for outcome in answered {
                switch outcome {
                case .reply(let reply):
                    outcomes.append("\(type(of: reply).messageType) \(String(decoding: try SkaldJSON.encode(reply), as: UTF8.self))")
                case .unknownType: outcomes.append("unknown type")
                case .unreadable: outcomes.append("unreadable")
                }
            }
            start = end
        }
        return outcomes
    }

    /// The history applied one command at a time and in random batches: the same answers, the
    /// same rows (as `dump` prints them).
    static func compare(
        _ stores: Stores, schema: String, handler: some CommandHandler, reference: some CommandHandler,
        behaviour: ServiceBehaviour,
        commands: [ServiceCommand], seed: UInt64, dump: PostgresQuery,
        prepare: (PostgresConnection) async throws -> Void
    ) async throws -> (outcomes: [String], rows: String, connection: PostgresConnection) {
        let single = try await stores.connect(stores.single, schema)
        let batched = try await stores.connect(stores.batched, schema)
        try await prepare(single)
        try await prepare(batched)
        let oneByOne = try await apply(commands, with: reference, behaviour: behaviour, on: single) { _ in 1 }
        var sizes = SplitMix64(seed: seed ^ 0x5EED)
        let inBatches = try await apply(commands, with: handler, behaviour: behaviour, on: batched) { _ in
            1 + sizes.below(60)
        }
        #expect(inBatches == oneByOne, "seed \(seed)")
        let singleRows = try await single.query(dump).first?.decode(String?.self, at: 0)
        let batchedRows = try await batched.query(dump).first?.decode(String?.self, at: 0)
        #expect(singleRows == batchedRows, "seed \(seed)")
        await single.close()
        return (inBatches, batchedRows ?? "", batched)
    }

    @Test("payments: charges, declines and refunds, with repeated orders and shared accounts", arguments: cases)
    func payments(seed: UInt64, against reference: Reference) async throws {
        let stores = try await Stores()
        var random = SplitMix64(seed: seed)
        let accounts = Dictionary(uniqueKeysWithValues: (0..<6).map { ("c\($0)", random.below(2_000)) })
        var commands: [ServiceCommand] = []
        for index in 0..<400 {
            let order = "o\(random.below(40))"
            if random.chance(60) {
                // Now and then a negative amount: the sender's bug, which the handler refuses to read.
                let amount = reference == .batchesOfOne && random.chance(2) ? -1 - random.below(100) : random.below(800)
                let payment = ProcessPayment(orderId: order, customerId: "c\(random.below(7))", amountCents: amount)
                commands.append(try Self.command(payment, id: "p\(index)", saga: order, random: &random))
            } else {
                commands.append(
                    try Self.command(RefundPayment(orderId: order, paymentId: nil), id: "r\(index)", saga: order, random: &random))
            }
        }
        let (outcomes, _, connection) = try await Self.compare(
            stores, schema: "payments", handler: PaymentService(),
            reference: reference == .previousHandlers ? AnyHandler(ReferencePaymentService()) : AnyHandler(PaymentService()),
            behaviour: ServiceBehaviour(failureRate: 0.2),
            commands: commands, seed: seed,
            dump: """
                SELECT string_agg(row, E'\\n') FROM (
                    SELECT concat_ws(' ', order_id, customer_id, amount_cents, status, reason) AS row FROM payments
                    UNION ALL SELECT concat_ws(' ', customer_id, balance) FROM accounts ORDER BY 1) AS rows
                """
        ) { connection in
            try await PaymentService.seed(accounts: accounts, on: connection)
        }
        // Every account: what it started with is its balance and its charges.
        let unbalanced = try await connection.query(
            """
            SELECT count(*)::bigint FROM accounts
            WHERE initial_balance <> balance + (
                SELECT coalesce(sum(amount_cents), 0) FROM payments
                WHERE payments.customer_id = accounts.customer_id AND status = 'charged')
            """
        ).first?.decode(Int.self, at: 0)
        #expect(unbalanced == 0)
        // The history covers every answer.
        for answer in [
            PaymentProcessed.messageType, PaymentDeclined.messageType, PaymentRefunded.messageType, "unreadable", "unknown type",
        ] {
            #expect(outcomes.contains { $0.hasPrefix(answer) }, "\(answer)")
        }
        await connection.close()
    }

    @Test("inventory: all-or-nothing reservations and releases, with repeated orders and shared SKUs", arguments: cases)
    func inventory(seed: UInt64, against reference: Reference) async throws {
        let stores = try await Stores()
        var random = SplitMix64(seed: seed)
        let stock = Dictionary(uniqueKeysWithValues: (0..<5).map { ("s\($0)", random.below(25)) })
        var commands: [ServiceCommand] = []
        for index in 0..<400 {
            let order = "o\(random.below(40))"
            if random.chance(60) {
                // Lines may repeat a SKU, ask for none of it, name one that is not stocked, or ask
                // for more than any stock can hold (out of stock, whatever the sum).
                let lines = (0..<(1 + random.below(3))).map { _ in
                    OrderLine(sku: "s\(random.below(6))", quantity: reference == .batchesOfOne && random.chance(3) ? Int.max : random.below(7))
                }
                commands.append(
                    try Self.command(ReserveInventory(orderId: order, lines: lines), id: "v\(index)", saga: order, random: &random))
            } else {
                commands.append(
                    try Self.command(ReleaseInventory(orderId: order), id: "l\(index)", saga: order, random: &random))
            }
        }
        let (outcomes, _, connection) = try await Self.compare(
            stores, schema: "inventory", handler: InventoryService(),
            reference: reference == .previousHandlers ? AnyHandler(ReferenceInventoryService()) : AnyHandler(InventoryService()),
            behaviour: ServiceBehaviour(failureRate: 0.1),
            commands: commands, seed: seed,
            dump: """
                SELECT string_agg(row, E'\\n') FROM (
                    SELECT concat_ws(' ', order_id, sku, quantity, status) AS row FROM reservations
                    UNION ALL SELECT concat_ws(' ', sku, available) FROM stock ORDER BY 1) AS rows
                """
        ) { connection in
            try await InventoryService.seed(stock: stock, on: connection)
        }
        // Every SKU: what it started with is what is available and what is reserved.
        let unbalanced = try await connection.query(
            """
            SELECT count(*)::bigint FROM stock
            WHERE initial_quantity <> available + (
                SELECT coalesce(sum(quantity), 0) FROM reservations
                WHERE reservations.sku = stock.sku AND status = 'reserved')
            """
        ).first?.decode(Int.self, at: 0)
        #expect(unbalanced == 0)
        for answer in [InventoryReserved.messageType, OutOfStock.messageType, InventoryReleased.messageType] {
            #expect(outcomes.contains { $0.hasPrefix(answer) }, "\(answer)")
        }
        await connection.close()
    }

    @Test("orders: creates, confirmations and cancels of placed and unplaced orders", arguments: cases)
    func orders(seed: UInt64, against reference: Reference) async throws {
        let stores = try await Stores()
        var random = SplitMix64(seed: seed)
        func lines() -> [OrderLine] { [OrderLine(sku: "s\(random.below(4))", quantity: 1 + random.below(3))] }
        let placed = (0..<15).map {
            OrderCreatedEvent(orderId: "o\($0)", customerId: "p\($0 % 4)", lines: lines(), amountCents: 100)
        }
        var commands: [ServiceCommand] = []
        for index in 0..<300 {
            let order = "o\(random.below(30))"
            switch random.below(3) {
            case 0:
                commands.append(
                    try Self.command(
                        CreateOrder(orderId: order, customerId: "c\(random.below(5))", lines: lines()), id: "n\(index)", saga: order,
                        random: &random))
            case 1:
                commands.append(try Self.command(ConfirmOrder(orderId: order), id: "f\(index)", saga: order, random: &random))
            default:
                commands.append(try Self.command(CancelOrder(orderId: order), id: "x\(index)", saga: order, random: &random))
            }
        }
        let (outcomes, _, connection) = try await Self.compare(
            stores, schema: "orders", handler: OrderService(),
            reference: reference == .previousHandlers ? AnyHandler(ReferenceOrderService()) : AnyHandler(OrderService()),
            behaviour: ServiceBehaviour(failureRate: 0.1),
            commands: commands, seed: seed,
            dump: """
                SELECT string_agg(concat_ws(' ', order_id, customer_id, lines::text, amount_cents, status), E'\\n' ORDER BY order_id)
                FROM orders
                """
        ) { connection in
            try await OrderService.place(placed, on: connection)
        }
        for answer in [
            OrderCreated.messageType, OrderRejected.messageType, OrderConfirmed.messageType,
            OrderConfirmationFailed.messageType, OrderCancelled.messageType, OrderCancellationRefused.messageType,
        ] {
            #expect(outcomes.contains { $0.hasPrefix(answer + " ") }, "\(answer)")
        }
        await connection.close()
    }

    @Test("notifications: one row per saga counts every successful attempt", arguments: cases)
    func notifications(seed: UInt64, against reference: Reference) async throws {
        let stores = try await Stores()
        var random = SplitMix64(seed: seed)
        var commands: [ServiceCommand] = []
        for index in 0..<200 {
            let saga = "s\(random.below(10))"
            commands.append(
                try Self.command(
                    NotifyCustomer(customerId: "c\(random.below(3))", text: "attempt \(index) for \(saga)"), id: "m\(index)",
                    saga: saga, random: &random))
        }
        let (outcomes, rows, connection) = try await Self.compare(
            stores, schema: "notifications", handler: NotificationService(),
            reference: reference == .previousHandlers
                ? AnyHandler(ReferenceNotificationService()) : AnyHandler(NotificationService()),
            behaviour: ServiceBehaviour(failureRate: 0.3),
            commands: commands, seed: seed,
            dump: """
                SELECT string_agg(concat_ws(' ', saga_id, customer_id, text, attempts), E'\\n' ORDER BY saga_id) FROM notifications
                """
        ) { _ in }
        #expect(!rows.isEmpty)
        #expect(outcomes.contains { $0.hasPrefix(NotificationFailed.messageType) })
        await connection.close()
    }

    @Test("an order for more of a SKU than any stock can hold is out of stock, and takes nothing")
    func hugeReservation() async throws {
        let stores = try await Stores()
        let connection = try await stores.connect(stores.batched, "inventory")
        try await InventoryService.seed(stock: ["s1": 5], on: connection)
        let huge = ReserveInventory(orderId: "o1", lines: [OrderLine(sku: "s1", quantity: .max), OrderLine(sku: "s1", quantity: .max)])
        let command = ServiceCommand(
            envelope: MessageEnvelope(id: "huge", source: "test", type: ReserveInventory.messageType, sagaId: "o1"),
            payload: try SkaldJSON.encode(huge))
        let reply = try await connection.withTransaction { connection in
            try await InventoryService().handle(command, on: connection, behaviour: ServiceBehaviour())
        }
        #expect((reply as? OutOfStock)?.sku == "s1")
        #expect(try await connection.query("SELECT available FROM stock WHERE sku = 's1'").first?.decode(Int.self, at: 0) == 5)
        #expect(try await connection.query("SELECT count(*)::bigint FROM reservations").first?.decode(Int.self, at: 0) == 0)
        await connection.close()
    }

    @Test("a payment that appears between a batch's read and its write fails the batch on the key; alone, the command sees it")
    func concurrentPaymentOfOneOrder() async throws {
        let stores = try await Stores()
        let first = try await stores.connect(stores.batched, "payments")
        let second = try await stores.connect(stores.batched, "payments")
        try await PaymentService.seed(accounts: ["c1": 1_000], on: first)
        func command(_ id: String) throws -> ServiceCommand {
            // Two commands for one order (a step retried with a new id, during a rebalance).
            ServiceCommand(
                envelope: MessageEnvelope(id: id, source: "test", type: ProcessPayment.messageType, sagaId: "o1"),
                payload: try SkaldJSON.encode(ProcessPayment(orderId: "o1", customerId: "c1", amountCents: 300)))
        }
        let late = try command("late")
        let early = try command("early")
        let secondPID = try await second.query("SELECT pg_backend_pid()").first?.decode(Int.self, at: 0) ?? 0
        let monitor = try await stores.connect(stores.batched, "payments")
        let (reply, racing) = try await first.withTransaction { connection in
            let reply = try await PaymentService().handle(early, on: connection, behaviour: ServiceBehaviour())
            // The other batch starts while this one holds the account's lock with its payment
            // not yet committed: it sees no payment for the order and waits for the account.
            let racing = Task {
                try await second.withTransaction { connection in
                    try await PaymentService().handle(late, on: connection, behaviour: ServiceBehaviour())
                }
            }
            try await eventually("the other batch waits for the account's lock", timeout: .seconds(30), poll: .milliseconds(20)) {
                try await monitor.query(
                    "SELECT count(*)::bigint FROM pg_stat_activity WHERE pid = \(secondPID) AND wait_event_type = 'Lock'"
                ).first?.decode(Int.self, at: 0) == 1
            }
            return (reply, racing)
        }
        #expect(reply is PaymentProcessed)
        let error = await #expect(throws: PostgresError.self) { try await racing.value }
        #expect(error?.sqlState == "23505")
        // ParticipantService applies the command alone after such a failure; its read sees the charge.
        let again = try await second.withTransaction { connection in
            try await PaymentService().handle(late, on: connection, behaviour: ServiceBehaviour())
        }
        #expect(again is PaymentProcessed)
        #expect(try await first.query("SELECT balance FROM accounts WHERE customer_id = 'c1'").first?.decode(Int.self, at: 0) == 700)
        await first.close()
        await second.close()
        await monitor.close()
    }
}

/// Either a shipped handler or a reference one, as one type.
struct AnyHandler: CommandHandler {
    private let base: any CommandHandler

    init(_ base: some CommandHandler) {
        self.base = base
    }

    var serviceName: String { base.serviceName }
    var defaultSchema: String { base.defaultSchema }
    var commandsTopic: String { base.commandsTopic }
    var tablesSQL: String { base.tablesSQL }
    var tablesChanges: [ServiceTablesChange] { base.tablesChanges }

    func handle(
        _ commands: [ServiceCommand], on connection: isolated PostgresConnection, behaviour: ServiceBehaviour
    ) async throws -> [CommandOutcome] {
        try await base.handle(commands, on: connection, behaviour: behaviour)
    }
}
