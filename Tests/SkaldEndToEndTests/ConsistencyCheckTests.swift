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

    @Test("a step's round trip pairs a command with its own reply: not a timeout, a late reply to an earlier attempt or a compensation's timeout")
    func roundTripsPairCommandsWithTheirReplies() async throws {
        let base = try TestPostgres.url()
        let store = try await TestPostgres.freshStore("rt")
        let id = UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(8).lowercased()
        let prefix = "rt\(id)_"
        let workload = ExampleWorkload(runID: String(id), orders: 1)
        try await ExampleServices.migrateAll(postgresURL: base, schemaPrefix: prefix)
        let check = ConsistencyCheck(storeURL: store, servicesURL: base, schemaPrefix: prefix)
        #expect(try await check.stepRoundTrips(of: workload) == nil, "no saga, no round trip")

        let sagaId = "PlaceOrder-" + workload.orderId(0)
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        func at(_ milliseconds: Double) -> Date { start.addingTimeInterval(milliseconds / 1000) }
        // (type, step, attempt, command id, reply, milliseconds after the start)
        let events: [(String, String?, Int?, String?, String?, Double)] = [
            ("saga.started", nil, nil, nil, nil, 0),
            ("step.command-sent", "create-order", 1, "c1", nil, 0),
            ("step.succeeded", "create-order", 1, nil, "OrderCreated", 10),  // c1: 10 ms
            ("step.command-sent", "reserve-inventory", 1, "c2", nil, 20),
            ("step.timed-out", "reserve-inventory", 1, nil, nil, 30),  // c2: timed out, left out
            ("step.command-sent", "reserve-inventory", 2, "c3", nil, 40),
            ("step.succeeded", "reserve-inventory", 1, nil, "InventoryReserved", 45),  // late reply to c2, not c3's
            ("compensation.started", "reserve-inventory", nil, nil, nil, 46),
            ("compensation.command-sent", "reserve-inventory", 1, "c4", nil, 50),
            ("compensation.failed", "reserve-inventory", 1, nil, nil, 80),  // c4: its timeout, no reply
            ("compensation.command-sent", "create-order", 1, "c5", nil, 90),
            ("compensation.succeeded", "create-order", 1, nil, "OrderCancelled", 100),  // c5: 10 ms
        ]
        let connection = try await PostgresConnection.connect(to: store)
        _ = try await connection.execute(
            """
            INSERT INTO sagas (saga_id, saga_type, definition_version, status, state, steps, business_key,
                               last_sequence, created_at, updated_at)
            VALUES (\(sagaId), 'PlaceOrder', 1, 'compensated', '{}'::jsonb, '[]'::jsonb,
                    \(workload.orderId(0)), \(events.count), now(), now())
            """
        )
        for (index, event) in events.enumerated() {
            var fields = ["\"type\":\"\(event.0)\""]
            if let step = event.1 { fields.append("\"step\":\"\(step)\"") }
            if let attempt = event.2 { fields.append("\"attempt\":\(attempt)") }
            if let commandId = event.3 { fields.append("\"commandId\":\"\(commandId)\"") }
            if let reply = event.4 { fields.append("\"reply\":\"\(reply)\"") }
            _ = try await connection.execute(
                """
                INSERT INTO saga_events (saga_id, sequence, event_type, event, recorded_at)
                VALUES (\(sagaId), \(index + 1), \(event.0), \("{" + fields.joined(separator: ",") + "}"), \(at(event.5)))
                """
            )
        }
        await connection.close()
        // When each service's transaction began: c1 4 ms and c5 3 ms after they were sent.
        for (schema, rows) in [("orders", [("c1", 4.0), ("c5", 93.0)]), ("inventory", [("c2", 25.0), ("c3", 42.0), ("c4", 55.0)])] {
            let service = try await PostgresConnection.connect(to: try PostgresSearchPath.url(base, schema: prefix + schema))
            for (commandId, handled) in rows {
                _ = try await service.execute("INSERT INTO inbox (message_id, received_at) VALUES (\(commandId), \(at(handled)))")
            }
            await service.close()
        }

        let roundTrips = try #require(try await check.stepRoundTrips(of: workload))
        #expect(roundTrips.commands == 2, "c1 and c5; not c2 (timed out), c3 (a reply to attempt 1) or c4 (no reply)")
        #expect(abs(roundTrips.roundTripP50 - 10) < 0.01 && abs(roundTrips.roundTripP99 - 10) < 0.01)
        #expect(abs(roundTrips.commandLegP50 - 3) < 0.01, "legs of 4 and 3 ms")
        #expect(abs(roundTrips.replyLegP50 - 6) < 0.01, "legs of 6 and 7 ms")
    }
}
