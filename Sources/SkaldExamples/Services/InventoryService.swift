import Skald
public import SkaldPostgres

/// inventory-service: owns stock levels per SKU and the reservations held against them.
///
/// `ReserveInventory` takes every line of an order or none (OutOfStock when any SKU is
/// short); `ReleaseInventory` gives a reservation back. For every SKU at any moment:
/// `initial_quantity = available + reserved quantities`.
public struct InventoryService: CommandHandler {
    /// Creates the handler.
    public init() {}

    /// `inventory`.
    public var serviceName: String { "inventory" }
    /// `inventory`.
    public var defaultSchema: String { "inventory" }
    /// `inventory.commands`.
    public var commandsTopic: String { "inventory.commands" }

    /// Stock and reservations.
    public var tablesSQL: String {
        """
        CREATE TABLE stock (
            sku              text    PRIMARY KEY,
            initial_quantity integer NOT NULL CHECK (initial_quantity >= 0),
            available        integer NOT NULL CHECK (available >= 0)
        );

        -- One row per order and SKU; sku '*' with quantity 0 is the tombstone of a release
        -- that came before any reservation, so a late reserve cannot take stock.
        CREATE TABLE reservations (
            order_id   text        NOT NULL,
            sku        text        NOT NULL,
            quantity   integer     NOT NULL CHECK (quantity >= 0),
            status     text        NOT NULL CHECK (status IN ('reserved', 'released')),
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (order_id, sku)
        );
        CREATE INDEX reservations_by_sku ON reservations (sku) WHERE status = 'reserved';
        """
    }

    /// Its keys compare byte by byte, whatever the database's collation, as the saga store's
    /// do (`schemas/postgres/0009_bytewise_keys.sql` says why).
    public var tablesChanges: [ServiceTablesChange] {
        [
            ServiceTablesChange(name: "bytewise_keys", sql: """
                SET LOCAL lock_timeout = '10s';
                ALTER TABLE stock ALTER COLUMN sku TYPE text COLLATE "C";
                ALTER TABLE reservations ALTER COLUMN order_id TYPE text COLLATE "C", ALTER COLUMN sku TYPE text COLLATE "C";
                """)
        ]
    }

    /// Sets the stock of SKUs that have none yet (for demos and tests).
    public static func seed(stock: [String: Int], on connection: PostgresConnection) async throws {
        try await connection.withTransaction { connection in
            for (sku, quantity) in stock.sorted(by: { $0.key < $1.key }) {
                _ = try await connection.execute(
                    """
                    INSERT INTO stock (sku, initial_quantity, available) VALUES (\(sku), \(quantity), \(quantity))
                    ON CONFLICT (sku) DO NOTHING
                    """
                )
            }
        }
    }

    /// The commands it handles.
    private enum Command {
        case reserve(ReserveInventory)
        case release(ReleaseInventory)
    }

    /// Handles ReserveInventory and ReleaseInventory, a batch in two round trips whatever its size.
    ///
    /// 1. One pipeline reads the batch's reservations and the stock of every SKU they touch
    ///    (the wanted ones, and those of reservations that may be released), both locked, in
    ///    key order so that two batches cannot deadlock.
    /// 2. ``InventoryLedger`` decides each command in order, in memory.
    /// 3. One pipeline inserts the new reservation rows, releases the old ones and moves the stock.
    ///
    /// `status <> 'released'` rather than `= 'reserved'` (the same rows: the CHECK allows only
    /// the two): with `= 'reserved'` the planner may AND the primary key with the partial index
    /// `reservations_by_sku`, which means reading every reserved row. With the statistics of a
    /// table that grew fast (a burst of orders) it did, and each release took 1.5 ms at 8,500
    /// reserved rows, growing with the table.
    public func handle(
        _ commands: [ServiceCommand], on connection: isolated PostgresConnection, behaviour: ServiceBehaviour
    ) async throws -> [CommandOutcome] {
        var batch = DecodedBatch(commands) { command -> Command? in
            switch command.envelope.type {
            case ReserveInventory.messageType: return .reserve(try command.decode(ReserveInventory.self))
            case ReleaseInventory.messageType: return .release(try command.decode(ReleaseInventory.self))
            default: return nil
            }
        }
        guard !batch.commands.isEmpty else { return batch.results }
        var orderIds = PostgresArrayWriter(of: .text)
        var wantedSKUs = PostgresArrayWriter(of: .text)
        for (_, command) in batch.commands {
            switch command {
            case .reserve(let reserve):
                orderIds.append(reserve.orderId)
                for (sku, _) in InventoryLedger.wanted(by: reserve) { wantedSKUs.append(sku) }
            case .release(let release):
                orderIds.append(release.orderId)
            }
        }
        let read = try connection.pipeline([
            """
            SELECT order_id, sku, quantity, status FROM reservations
            WHERE order_id = ANY(\(orderIds.value)::text[]) ORDER BY order_id, sku FOR UPDATE
            """,
            """
            SELECT sku, available FROM stock
            WHERE sku IN (
                SELECT unnest(\(wantedSKUs.value)::text[])
                UNION SELECT sku FROM reservations WHERE order_id = ANY(\(orderIds.value)::text[]) AND status <> 'released'
            )
            ORDER BY sku FOR UPDATE
            """,
        ])
        var reservations: [String: [InventoryLedger.Reservation]] = [:]
        for row in read[0] {
            let (orderId, sku, quantity, status) = try row.decode((String, String, Int, String).self)
            reservations[orderId, default: []].append(.init(sku: sku, quantity: quantity, released: status == "released"))
        }
        var available: [String: Int] = [:]
        for row in read[1] {
            let (sku, quantity) = try row.decode((String, Int).self)
            available[sku] = quantity
        }
        var ledger = InventoryLedger(reservations: reservations, available: available)
        for (index, command) in batch.commands {
            switch command {
            case .reserve(let reserve):
                batch.answer(index, with: ledger.reserve(reserve, failsByRule: behaviour.fails(reserve.orderId)))
            case .release(let release):
                batch.answer(index, with: ledger.release(release))
            }
        }
        try write(ledger, on: connection)
        return batch.results
    }

    /// Writes what `ledger` changed, in one round trip.
    private func write(_ ledger: InventoryLedger, on connection: isolated PostgresConnection) throws {
        var writes: [PostgresQuery] = []
        let new = ledger.newReservations
        if !new.isEmpty {
            var orderIds = PostgresArrayWriter(of: .text, capacity: new.count)
            var skus = PostgresArrayWriter(of: .text, capacity: new.count)
            var quantities = PostgresArrayWriter(of: .int4, capacity: new.count)
            var statuses = PostgresArrayWriter(of: .text, capacity: new.count)
            for (orderId, reservation) in new {
                orderIds.append(orderId)
                skus.append(reservation.sku)
                quantities.append(reservation.quantity)
                statuses.append(reservation.released ? "released" : "reserved")
            }
            writes.append(
                """
                INSERT INTO reservations (order_id, sku, quantity, status)
                SELECT * FROM unnest(
                    \(orderIds.value)::text[], \(skus.value)::text[], \(quantities.value)::integer[], \(statuses.value)::text[])
                """)
        }
        let released = ledger.releasedReservations
        if !released.isEmpty {
            var orderIds = PostgresArrayWriter(of: .text, capacity: released.count)
            for orderId in released { orderIds.append(orderId) }
            writes.append(
                """
                UPDATE reservations SET status = 'released', updated_at = now()
                WHERE order_id = ANY(\(orderIds.value)::text[]) AND status <> 'released'
                """)
        }
        let moves = ledger.stockChanges
        if !moves.isEmpty {
            var skus = PostgresArrayWriter(of: .text, capacity: moves.count)
            var deltas = PostgresArrayWriter(of: .int4, capacity: moves.count)
            for (sku, delta) in moves {
                skus.append(sku)
                deltas.append(delta)
            }
            writes.append(
                """
                UPDATE stock SET available = stock.available + moved.delta
                FROM unnest(\(skus.value)::text[], \(deltas.value)::integer[]) AS moved(sku, delta)
                WHERE stock.sku = moved.sku
                """)
        }
        if !writes.isEmpty { _ = try connection.pipeline(writes) }
    }
}
