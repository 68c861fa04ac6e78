import Skald

/// The inventory service's rows that one batch of commands touches, and its decisions on them:
/// pure, so a batch is decided in memory between one read and one write.
///
/// Load it with the batch's reservations (by order) and the stock of the SKUs involved
/// (locked), apply the commands in order, then write ``newReservations``,
/// ``releasedReservations`` and ``stockChanges``. Every decision is the one the command would
/// get alone, against the rows as the earlier commands of the batch left them.
struct InventoryLedger: Sendable {
    /// One row of `reservations`.
    struct Reservation: Sendable, Equatable {
        var sku: String
        var quantity: Int
        var released: Bool
    }

    /// The SKU of the row a release leaves when it comes before any reservation, so that a
    /// late reserve cannot take stock.
    static let tombstoneSKU = "*"

    /// The reservations read or written, by order id, in SKU order.
    private(set) var reservations: [String: [Reservation]]
    /// The available stock of the locked SKUs, as the batch leaves it.
    private(set) var available: [String: Int]
    private var loaded: Set<String>
    private var newOrderIds: [String] = []
    private var releasedOrderIds: [String] = []
    private var stockDeltas: [String: Int] = [:]

    /// A ledger over `reservations` (by order id) and the locked `available` stock (by SKU).
    init(reservations: [String: [Reservation]], available: [String: Int]) {
        self.reservations = reservations.mapValues { $0.sorted { $0.sku < $1.sku } }
        self.available = available
        loaded = Set(reservations.keys)
    }

    /// Takes every line of the order or none: OutOfStock names the first short SKU.
    ///
    /// An order seen before is answered as it went: reserved stays reserved, released stays
    /// released. `failsByRule` refuses it without taking anything.
    mutating func reserve(_ reserve: ReserveInventory, failsByRule: Bool) -> any SagaMessage {
        if let existing = reservations[reserve.orderId], let first = existing.first {
            return first.released
                ? OutOfStock(orderId: reserve.orderId, sku: "released")
                : InventoryReserved(orderId: reserve.orderId, reservationId: "res-\(reserve.orderId)")
        }
        if failsByRule {
            return OutOfStock(orderId: reserve.orderId, sku: reserve.lines.first?.sku ?? "?")
        }
        let wanted = Self.wanted(by: reserve)
        for (sku, quantity) in wanted where available[sku, default: 0] < quantity {
            return OutOfStock(orderId: reserve.orderId, sku: sku)
        }
        // An order without lines takes nothing and leaves no row, so its release leaves a tombstone.
        guard !wanted.isEmpty else { return InventoryReserved(orderId: reserve.orderId, reservationId: "res-\(reserve.orderId)") }
        for (sku, quantity) in wanted {
            available[sku, default: 0] -= quantity
            stockDeltas[sku, default: 0] -= quantity
        }
        reservations[reserve.orderId] = wanted.map { Reservation(sku: $0.sku, quantity: $0.quantity, released: false) }
        newOrderIds.append(reserve.orderId)
        return InventoryReserved(orderId: reserve.orderId, reservationId: "res-\(reserve.orderId)")
    }

    /// Gives the order's reserved stock back; a release before any reservation leaves a tombstone.
    mutating func release(_ release: ReleaseInventory) -> any SagaMessage {
        guard var rows = reservations[release.orderId], !rows.isEmpty else {
            reservations[release.orderId] = [Reservation(sku: Self.tombstoneSKU, quantity: 0, released: true)]
            newOrderIds.append(release.orderId)
            return InventoryReleased(orderId: release.orderId)
        }
        guard rows.contains(where: { !$0.released }) else { return InventoryReleased(orderId: release.orderId) }
        for index in rows.indices where !rows[index].released {
            rows[index].released = true
            available[rows[index].sku, default: 0] += rows[index].quantity
            stockDeltas[rows[index].sku, default: 0] += rows[index].quantity
        }
        reservations[release.orderId] = rows
        // A row this batch inserted is inserted as it ends. An order that was read is released
        // at most once (nothing reserves it again), so it is listed once.
        if loaded.contains(release.orderId) { releasedOrderIds.append(release.orderId) }
        return InventoryReleased(orderId: release.orderId)
    }

    /// The SKUs an order's lines want, with their summed positive quantities, in SKU order.
    ///
    /// A sum beyond `Int.max` stays at `Int.max`: no stock holds that much (an `integer`
    /// column), so the order is out of stock, as any order for more than there is.
    static func wanted(by reserve: ReserveInventory) -> [(sku: String, quantity: Int)] {
        var wanted: [String: Int] = [:]
        for line in reserve.lines where line.quantity > 0 {
            let (sum, overflow) = wanted[line.sku, default: 0].addingReportingOverflow(line.quantity)
            wanted[line.sku] = overflow ? Int.max : sum
        }
        return wanted.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    /// The rows to insert with their final state, order by order in the order they appeared.
    var newReservations: [(orderId: String, reservation: Reservation)] {
        newOrderIds.flatMap { orderId in reservations[orderId, default: []].map { (orderId, $0) } }
    }

    /// The orders whose rows were there, reserved, and are now released.
    var releasedReservations: [String] { releasedOrderIds }

    /// How much each SKU's available stock moved, for the SKUs that moved, sorted by SKU.
    var stockChanges: [(sku: String, delta: Int)] {
        stockDeltas.filter { $0.value != 0 }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }
}
