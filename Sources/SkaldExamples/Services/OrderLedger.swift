import Skald

/// The order service's rows that one batch of commands touches, and its decisions on them:
/// pure, so a batch is decided in memory between one read and one write.
///
/// Load it with the statuses of the batch's orders (locked), apply the commands in order,
/// then write ``newOrders`` and ``changedOrders``. Every decision is the one the command would
/// get alone, against the rows as the earlier commands of the batch left them.
struct OrderLedger: Sendable {
    /// What an order row can say.
    enum Status: String, Sendable {
        case pending, accepted, rejected, confirmed, cancelled
    }

    /// A row this batch inserts.
    struct NewOrder: Sendable, Equatable {
        var customerId: String
        var lines: [OrderLine]
        var status: Status
    }

    /// The statuses of the orders read or written, by order id.
    private(set) var statuses: [String: Status]
    private var inserted: [String: NewOrder] = [:]
    private var newOrderIds: [String] = []
    private var changedOrderIds: [String] = []
    private var changed: Set<String> = []

    /// A ledger over the `statuses` of the orders that exist (by order id).
    init(statuses: [String: Status]) {
        self.statuses = statuses
    }

    /// Accepts a pending order, or records one that was started without being placed.
    ///
    /// `rejectedByRule` rejects a pending order instead. A cancelled order (a cancel that came
    /// first) is rejected; one accepted, confirmed or rejected before is answered as created.
    mutating func create(_ create: CreateOrder, rejectedByRule: Bool) -> any SagaMessage {
        let status = statuses[create.orderId]
        if rejectedByRule {
            if status == .pending { set(.rejected, for: create.orderId) }
            return OrderRejected(reason: "order service told to reject")
        }
        switch status {
        case nil:
            insert(NewOrder(customerId: create.customerId, lines: create.lines, status: .accepted), for: create.orderId)
        case .pending:
            set(.accepted, for: create.orderId)
        case .cancelled:
            return OrderRejected(reason: "order \(create.orderId) was cancelled")
        case .accepted, .rejected, .confirmed:
            break
        }
        return OrderCreated(orderId: create.orderId)
    }

    /// Confirms a pending or accepted order (the pivot); any other order fails the confirmation.
    mutating func confirm(_ confirm: ConfirmOrder) -> any SagaMessage {
        switch statuses[confirm.orderId] {
        case .pending, .accepted:
            set(.confirmed, for: confirm.orderId)
            return OrderConfirmed(orderId: confirm.orderId)
        case .confirmed:
            return OrderConfirmed(orderId: confirm.orderId)
        case let status:
            return OrderConfirmationFailed(reason: "order \(confirm.orderId) is \(status?.rawValue ?? "unknown")")
        }
    }

    /// Cancels an order unless it is confirmed, which it refuses. A cancel before the order
    /// leaves a tombstone, so a late create cannot bring it back.
    mutating func cancel(_ cancel: CancelOrder) -> any SagaMessage {
        switch statuses[cancel.orderId] {
        case nil:
            insert(NewOrder(customerId: "", lines: [], status: .cancelled), for: cancel.orderId)
        case .confirmed:
            return OrderCancellationRefused(orderId: cancel.orderId, reason: "order \(cancel.orderId) is confirmed")
        case .some:
            set(.cancelled, for: cancel.orderId)
        }
        return OrderCancelled(orderId: cancel.orderId)
    }

    /// The rows to insert, in the order they appeared, with their final status.
    var newOrders: [(orderId: String, order: NewOrder)] {
        newOrderIds.map { orderId in
            var order = inserted[orderId]!
            order.status = statuses[orderId]!
            return (orderId, order)
        }
    }

    /// The rows that were there and changed, with their final status, in the order they first changed.
    var changedOrders: [(orderId: String, status: Status)] {
        changedOrderIds.map { ($0, statuses[$0]!) }
    }

    private mutating func insert(_ order: NewOrder, for orderId: String) {
        statuses[orderId] = order.status
        inserted[orderId] = order
        newOrderIds.append(orderId)
    }

    private mutating func set(_ status: Status, for orderId: String) {
        statuses[orderId] = status
        // A row this batch inserted is inserted as it ends; a row that was read is updated
        // once, to its last status.
        if inserted[orderId] == nil, changed.insert(orderId).inserted { changedOrderIds.append(orderId) }
    }
}
