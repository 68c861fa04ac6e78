import Foundation
import Skald
import SkaldPostgres
import SkaldRuntime
import SkaldTestSupport
import Testing

/// A saga's `sagas` row is inserted by the batch that starts it and updated in place by every
/// later one (`PumpStatements.DocumentWrites`: `insertSnapshots`, `updateSnapshots`), on both of the processor's
/// paths: what the insert alone writes (type, version, creation time, trace context) must
/// survive the updates, and what changes must follow the log.
@Suite("Saga processor: snapshot rows inserted once, then updated")
struct SnapshotRowTests {
    private static let registry: SagaRegistry = {
        var registry = SagaRegistry()
        try! registry.register(transferSaga())
        return registry
    }()
    private static let traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

    private struct Row: Equatable {
        var sagaType: String
        var version: Int
        var status: String
        var currentStep: String?
        var lastSequence: Int
        var traceparent: String?
        var createdAt: Date
        var updatedAt: Date
    }

    private static func rows(_ connection: PostgresConnection) async throws -> [String: Row] {
        var rows: [String: Row] = [:]
        for row in try await connection.query(
            """
            SELECT saga_id, saga_type, definition_version, status, current_step, last_sequence, traceparent,
                   created_at, updated_at
            FROM sagas
            """)
        {
            rows[try row.decode(String.self, at: 0)] = Row(
                sagaType: try row.decode(String.self, at: 1), version: try row.decode(Int.self, at: 2),
                status: try row.decode(String.self, at: 3), currentStep: try row.decode(String?.self, at: 4),
                lastSequence: try row.decode(Int.self, at: 5), traceparent: try row.decode(String?.self, at: 6),
                createdAt: try row.decode(Date.self, at: 7), updatedAt: try row.decode(Date.self, at: 8))
        }
        return rows
    }

    /// Each saga's last event, which its row's `last_sequence` must name.
    private static func lastSequences(_ url: String) async throws -> [String: Int] {
        let pairs = try await TestPostgres.strings(
            url, "SELECT saga_id || '=' || max(sequence) FROM saga_events GROUP BY saga_id")
        return Dictionary(uniqueKeysWithValues: pairs.map {
            let parts = $0.split(separator: "=")
            return (String(parts[0]), Int(parts[1])!)
        })
    }

    @Test("started and moved in one batch, then on the short path, then by a processor that folds the logs")
    func insertedOnceThenUpdated() async throws {
        let url = try await TestPostgres.freshStore("snapshots")
        let processor = SagaProcessor(registry: Self.registry)
        let connection = try await PostgresConnection.connect(to: url)
        defer { Task { await connection.close() } }
        let startedAt = Date(timeIntervalSince1970: 1_800_000_000)

        // Ten starts, the first five with trace context, and the first three sagas' debit
        // replies in the same batch: those rows are inserted already past their first step.
        var starts = try TransferInputs.start(0..<10)
        for index in 0..<5 { starts[index].traceparent = Self.traceparent }
        let first = try await processor.process(starts + (0..<3).map { try TransferInputs.debited($0) }, on: connection, now: startedAt)
        #expect(first.outcomes.allSatisfy { if case .applied = $0 { true } else { false } })
        let afterStart = try await Self.rows(connection)
        #expect(afterStart.count == 10)
        for index in 0..<10 {
            let row = try #require(afterStart["Transfer-\(index)"])
            #expect(row.sagaType == "Transfer" && row.version == 1 && row.status == "running")
            #expect(row.currentStep == (index < 3 ? "credit" : "debit"), "Transfer-\(index)")
            #expect(row.traceparent == (index < 5 ? Self.traceparent : nil), "Transfer-\(index)")
        }
        #expect(afterStart.mapValues(\.lastSequence) == (try await Self.lastSequences(url)))

        // The other sagas' debits: every saga is cached, so the short path updates the rows.
        let later = startedAt.addingTimeInterval(5)
        _ = try await processor.process(try (3..<10).map { try TransferInputs.debited($0) }, on: connection, now: later)
        // Credits through a processor with nothing cached: the locked path updates them too.
        let fresh = SagaProcessor(registry: Self.registry)
        let latest = startedAt.addingTimeInterval(9)
        _ = try await fresh.process(try (0..<10).map { try TransferInputs.credited($0) }, on: connection, now: latest)

        let rows = try await Self.rows(connection)
        #expect(rows.count == 10)
        #expect(rows.mapValues(\.lastSequence) == (try await Self.lastSequences(url)))
        for index in 0..<10 {
            let row = try #require(rows["Transfer-\(index)"])
            let before = try #require(afterStart["Transfer-\(index)"])
            #expect(row.currentStep == "notify", "Transfer-\(index)")
            #expect(row.lastSequence > before.lastSequence)
            #expect(row.traceparent == before.traceparent, "the start's trace context is kept")
            #expect(row.createdAt == before.createdAt, "the start's time is kept")
            #expect(row.updatedAt > before.updatedAt)
            #expect(row.sagaType == before.sagaType && row.version == before.version)
        }
    }
}

extension SnapshotRowTests {
    /// Only a saga the batch itself starts has its row inserted. One whose row exists with an
    /// empty log (a restore that lost the log, a hand-made fixture) folds to an instance that is
    /// not started, which refuses every input: nothing is appended and the row stays.
    @Test("a row whose log is empty: an input for it is refused with the reason, and nothing is written")
    func rowWithoutLog() async throws {
        let url = try await TestPostgres.freshStore("snapshots")
        let connection = try await PostgresConnection.connect(to: url)
        defer { Task { await connection.close() } }
        // A row without events, as a restore that lost the log, or a hand-made fixture, leaves it.
        try await connection.query(
            """
            INSERT INTO sagas (saga_id, saga_type, definition_version, status, state, steps, last_sequence, created_at, updated_at)
            VALUES ('Transfer-7', 'Transfer', 1, 'running', '{}', '[]', 0, now(), now())
            """)
        let processor = SagaProcessor(registry: Self.registry)
        let abort = SagaWork(
            target: .saga(id: "Transfer-7"), input: .operatorCommand(OperatorCommand(.abort, actor: "ops", reason: "test")),
            inboxId: nil, source: "operator")
        let result = try await processor.process([abort], on: connection, now: Date(timeIntervalSince1970: 1_800_000_000))
        guard case .rejected(let reason) = result.outcomes.first else {
            Issue.record("expected a refusal, got \(result.outcomes)")
            return
        }
        #expect(reason.contains("saga.started"), "\(reason)")
        #expect(try await TestPostgres.count(url, "SELECT count(*)::bigint FROM saga_events") == 0)
        let rows = try await Self.rows(connection)
        #expect(rows.count == 1 && rows["Transfer-7"]?.lastSequence == 0 && rows["Transfer-7"]?.status == "running")
    }
}
