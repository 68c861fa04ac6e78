import Foundation
import SkaldExamples
import SkaldPostgres
import SkaldTestSupport
import Testing

/// The check the demo and the end-to-end tests rely on must catch what it claims to catch.
@Suite("Consistency check: it finds broken ledgers and leftover effects")
struct ConsistencyCheckTests {
    @Test("a tampered stock, a tampered balance, a completed order without effects and a missing saga are reported")
    func findsProblems() async throws {
        let base = try TestPostgres.url()
        let store = try await TestPostgres.freshStore("cc")
        let id = UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(8).lowercased()
        let prefix = "cc\(id)_"
        let workload = ExampleWorkload(runID: String(id), orders: 2)
        try await ExampleServices.migrateAll(postgresURL: base, schemaPrefix: prefix)
        try await workload.seed(servicesURL: base, schemaPrefix: prefix)
        let check = ConsistencyCheck(storeURL: store, servicesURL: base, schemaPrefix: prefix)

        // Order 0 "completed" in the orchestrator's store, with nothing done by the services.
        let connection = try await PostgresConnection.connect(to: store)
        _ = try await connection.execute(
            """
            INSERT INTO sagas (saga_id, saga_type, definition_version, status, state, steps, business_key,
                               last_sequence, created_at, updated_at)
            VALUES (\("PlaceOrder-" + workload.orderId(0)), 'PlaceOrder', 1, 'completed', '{}'::jsonb, '[]'::jsonb,
                    \(workload.orderId(0)), 1, now(), now())
            """
        )
        await connection.close()
        let inventory = try await PostgresConnection.connect(to: try PostgresSearchPath.url(base, schema: prefix + "inventory"))
        _ = try await inventory.execute("UPDATE stock SET available = available - 1 WHERE sku = \("sku-\(id)-0")")
        await inventory.close()
        let payments = try await PostgresConnection.connect(to: try PostgresSearchPath.url(base, schema: prefix + "payments"))
        _ = try await payments.execute("UPDATE accounts SET balance = balance + 5 WHERE customer_id = \("customer-\(id)-1")")
        await payments.close()

        let report = try await check.run(workload)
        #expect(!report.isConsistent)
        #expect(report.problems.contains { $0.hasPrefix("stock of sku-\(id)-0") })
        #expect(report.problems.contains { $0.hasPrefix("account customer-\(id)-1") })
        #expect(report.problems.contains { $0.hasPrefix("\(workload.orderId(0)) completed but") })
        #expect(report.problems.contains { $0 == "\(workload.orderId(1)): no saga" })
        #expect(report.completed == 1 && report.sagas == 1)
        #expect(try await check.progress(of: workload) == (1, 1))
        // Order 1 has no saga, so nothing is in flight; a running saga of order 1 counts.
        let monitor = try await PostgresConnection.connect(to: store)
        let since = Date().addingTimeInterval(-60)
        #expect(try await check.unfinished(of: workload, on: monitor, createdSince: since) == 0)
        _ = try await monitor.execute(
            """
            INSERT INTO sagas (saga_id, saga_type, definition_version, status, state, steps, business_key,
                               last_sequence, created_at, updated_at)
            VALUES (\("PlaceOrder-" + workload.orderId(1)), 'PlaceOrder', 1, 'running', '{}'::jsonb, '[]'::jsonb,
                    \(workload.orderId(1)), 1, now(), now())
            """
        )
        #expect(try await check.unfinished(of: workload, on: monitor, createdSince: since) == 1)
        #expect(try await check.unfinished(of: workload, on: monitor, createdSince: Date().addingTimeInterval(60)) == 0)

        // The run's end is the last final saga's `updated_at`; a saga still running does not end it.
        let ended = try await monitor.query("SELECT updated_at FROM sagas WHERE business_key = \(workload.orderId(0))")
            .first?.decode(Date.self, at: 0)
        #expect(report.lastSagaEnd != nil && report.lastSagaEnd == ended)
        _ = try await monitor.execute(
            "UPDATE sagas SET updated_at = now() + interval '1 hour' WHERE business_key = \(workload.orderId(1))")
        #expect(try await check.run(workload).lastSagaEnd == ended)
        await monitor.close()
    }
}
