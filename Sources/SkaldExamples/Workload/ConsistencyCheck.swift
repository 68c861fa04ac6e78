public import Foundation
import Skald
public import SkaldPostgres

/// Checks a run of the example system: the orchestrator's sagas against the services' own data.
///
/// It reads each service's schema the way an auditor would (the services never read
/// each other's tables). Invariants: every SKU's `initial = available + reserved`, every
/// account's `initial = balance + charged`; a completed order is confirmed, reserved,
/// charged and notified; a compensated order is cancelled (or rejected) with nothing
/// reserved, nothing charged and no notification.
public struct ConsistencyCheck: Sendable {
    /// The orchestrator's store (a URL whose sessions see its tables).
    public var storeURL: String
    /// The database of the services (their schemas are added to it).
    public var servicesURL: String
    /// The services' schema prefix.
    public var schemaPrefix: String

    /// Creates a check.
    public init(storeURL: String, servicesURL: String, schemaPrefix: String = "") {
        self.storeURL = storeURL
        self.servicesURL = servicesURL
        self.schemaPrefix = schemaPrefix
    }

    /// How many of the run's sagas are completed or compensated, and how many exist.
    public func progress(of workload: ExampleWorkload) async throws -> (terminal: Int, total: Int) {
        let connection = try await PostgresConnection.connect(to: storeURL)
        defer { Task { await connection.close() } }
        return try await progress(of: workload, on: connection)
    }

    /// The same, on a connection the caller keeps (to the store): a loop that asks every
    /// 100 ms must not start a Postgres backend each time, which cost more CPU than the
    /// sagas being watched at 100 sagas/s.
    ///
    /// With `createdSince` (a time before the run's first saga, with room for clock skew),
    /// only the sagas created since are read, through `sagas_by_status`; without it, every
    /// saga of the store is scanned, which grows with every run the store has seen.
    public func progress(
        of workload: ExampleWorkload, on connection: PostgresConnection, createdSince: Date? = nil
    ) async throws -> (terminal: Int, total: Int) {
        let prefix = workload.orderIdPrefix + "%"
        let rows: PostgresRows
        if let createdSince {
            let statuses = "{" + SagaStatus.allCases.map(\.rawValue).joined(separator: ",") + "}"
            rows = try await connection.query(
                """
                SELECT count(*) FILTER (WHERE status IN ('completed', 'compensated', 'failed_needs_operator'))::bigint,
                       count(*)::bigint
                FROM sagas
                WHERE status = ANY(\(statuses)::text[]) AND created_at >= \(createdSince) AND business_key LIKE \(prefix)
                """
            )
        } else {
            rows = try await connection.query(
                """
                SELECT count(*) FILTER (WHERE status IN ('completed', 'compensated', 'failed_needs_operator'))::bigint,
                       count(*)::bigint
                FROM sagas WHERE business_key LIKE \(prefix)
                """
            )
        }
        let row = rows.first
        return (try row?.decode(Int.self, at: 0) ?? 0, try row?.decode(Int.self, at: 1) ?? 0)
    }

    /// How many of the run's sagas created since `createdSince` are not finished yet (not
    /// started, running or compensating).
    ///
    /// Once every saga of a run has started, this is how a monitor follows it: it reads the
    /// `sagas_by_status` entries of unfinished statuses, where ``progress(of:on:createdSince:)``
    /// reads every saga of the run each time. Until vacuum removes them, those entries include
    /// sagas that have finished since: near the end of a 20,000-saga burst a call still took 30 ms.
    public func unfinished(of workload: ExampleWorkload, on connection: PostgresConnection, createdSince: Date) async throws -> Int {
        let unfinished = "{" + [SagaStatus.notStarted, .running, .compensating].map(\.rawValue).joined(separator: ",") + "}"
        let rows = try await connection.query(
            """
            SELECT count(*)::bigint FROM sagas
            WHERE status = ANY(\(unfinished)::text[]) AND created_at >= \(createdSince)
              AND business_key LIKE \(workload.orderIdPrefix + "%")
            """
        )
        return try rows.first?.decode(Int.self, at: 0) ?? 0
    }

    /// Runs every check for `workload`'s orders.
    public func run(_ workload: ExampleWorkload) async throws -> ConsistencyReport {
        var report = ConsistencyReport()
        report.expected = workload.expected
        let like = workload.orderIdPrefix + "%"

        let store = try await PostgresConnection.connect(to: storeURL)
        var sagas: [String: (sagaId: String, status: String)] = [:]
        var latencies: [Double] = []
        for row in try await store.query(
            """
            SELECT business_key, saga_id, status, (extract(epoch FROM updated_at - created_at) * 1000)::float8, updated_at
            FROM sagas WHERE business_key LIKE \(like)
            """
        ) {
            let (key, sagaId, status, latency, updated) = try row.decode((String, String, String, Double, Date).self)
            sagas[key] = (sagaId, status)
            if SagaStatus(rawValue: status)?.isFinal == true {
                report.lastSagaEnd = max(report.lastSagaEnd ?? updated, updated)
            }
            switch status {
            case "completed": report.completed += 1; latencies.append(latency)
            case "compensated": report.compensated += 1; latencies.append(latency)
            case "failed_needs_operator": report.failed += 1
            default: report.running += 1
            }
        }
        let timedOut = Set(
            try await store.query(
                """
                SELECT DISTINCT s.business_key FROM sagas s JOIN saga_events e USING (saga_id)
                WHERE e.event_type = 'step.timed-out' AND s.business_key LIKE \(like)
                """
            ).decode(String.self))
        await store.close()
        report.sagas = sagas.count
        report.timedOut = timedOut.count
        latencies.sort()
        report.latencyP50 = Self.percentile(latencies, 0.50)
        report.latencyP99 = Self.percentile(latencies, 0.99)

        let orders = try await connect("orders")
        let orderStatus = Dictionary(
            try await orders.query("SELECT order_id, status FROM orders WHERE order_id LIKE \(like)")
                .map { try $0.decode((String, String).self) }, uniquingKeysWith: { first, _ in first })
        await orders.close()

        let inventory = try await connect("inventory")
        let stockBroken = try await inventory.query(
            """
            SELECT s.sku, s.initial_quantity, s.available,
                   coalesce((SELECT sum(r.quantity) FROM reservations r WHERE r.sku = s.sku AND r.status = 'reserved'), 0)::bigint
            FROM stock s
            WHERE s.initial_quantity <> s.available
                + coalesce((SELECT sum(r.quantity) FROM reservations r WHERE r.sku = s.sku AND r.status = 'reserved'), 0)
            """
        )
        for row in stockBroken {
            let (sku, initial, available, reserved) = try row.decode((String, Int, Int, Int).self)
            report.problems.append("stock of \(sku): initial \(initial) ≠ available \(available) + reserved \(reserved)")
        }
        let reserved = Dictionary(
            try await inventory.query(
                """
                SELECT order_id, sum(quantity)::bigint FROM reservations
                WHERE status = 'reserved' AND order_id LIKE \(like) GROUP BY order_id
                """
            ).map { try $0.decode((String, Int).self) }, uniquingKeysWith: { first, _ in first })
        await inventory.close()

        let payments = try await connect("payments")
        let balanceBroken = try await payments.query(
            """
            SELECT a.customer_id, a.initial_balance, a.balance,
                   coalesce((SELECT sum(p.amount_cents) FROM payments p WHERE p.customer_id = a.customer_id AND p.status = 'charged'), 0)::bigint
            FROM accounts a
            WHERE a.initial_balance <> a.balance
                + coalesce((SELECT sum(p.amount_cents) FROM payments p WHERE p.customer_id = a.customer_id AND p.status = 'charged'), 0)
            """
        )
        for row in balanceBroken {
            let (customer, initial, balance, charged) = try row.decode((String, Int, Int, Int).self)
            report.problems.append("account \(customer): initial \(initial) ≠ balance \(balance) + charged \(charged)")
        }
        let charged = Dictionary(
            try await payments.query(
                "SELECT order_id, amount_cents FROM payments WHERE status = 'charged' AND order_id LIKE \(like)"
            ).map { try $0.decode((String, Int).self) }, uniquingKeysWith: { first, _ in first })
        await payments.close()

        let notifications = try await connect("notifications")
        let notified = Set(try await notifications.query("SELECT saga_id FROM notifications").decode(String.self))
        await notifications.close()

        for number in 0..<workload.orders {
            let order = workload.order(number)
            let id = order.orderId
            guard let saga = sagas[id] else {
                report.problems.append("\(id): no saga")
                continue
            }
            let quantity = order.lines.reduce(0) { $0 + $1.quantity }
            let effects = "order \(orderStatus[id] ?? "none"), reserved \(reserved[id] ?? 0), charged \(charged[id] ?? 0), notified \(notified.contains(saga.sagaId))"
            switch saga.status {
            case "completed":
                if orderStatus[id] != "confirmed" || reserved[id] != quantity || charged[id] != order.amountCents
                    || !notified.contains(saga.sagaId)
                {
                    report.problems.append("\(id) completed but: \(effects)")
                }
            case "compensated":
                let cancelled = orderStatus[id] == "cancelled" || orderStatus[id] == "rejected"
                if !cancelled || reserved[id] != nil || charged[id] != nil || notified.contains(saga.sagaId) {
                    report.problems.append("\(id) compensated but left an effect: \(effects)")
                }
            case "failed_needs_operator":
                report.problems.append("\(id) needs an operator")
            default:
                report.problems.append("\(id) is still \(saga.status)")
            }
            let expectedStatus = ExampleWorkload.fate(number) == .completes ? "completed" : "compensated"
            if saga.status != expectedStatus && !(timedOut.contains(id) && saga.status == "compensated") {
                report.unexpected.append("\(id) \(saga.status), expected \(expectedStatus)")
            }
        }
        return report
    }

    private func connect(_ schema: String) async throws -> PostgresConnection {
        try await PostgresConnection.connect(to: try PostgresSearchPath.url(servicesURL, schema: schemaPrefix + schema))
    }

    /// The value below which `fraction` of `sorted` (ascending) lies, the nearest-rank way; 0 when empty.
    public static func percentile(_ sorted: [Double], _ fraction: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        let index = min(sorted.count - 1, Int((Double(sorted.count) * fraction).rounded(.up)) - 1)
        return sorted[max(0, index)]
    }
}
