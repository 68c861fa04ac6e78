import Foundation
import Skald
import SkaldPostgres
@testable import SkaldRuntime
import SkaldTestSupport
import Testing

/// A saga's documents (`sagas.state`, `sagas.steps`, `saga_events.event`) before and after their
/// contract migration (`0010_saga_documents_text.sql`): this version must run on both, and across
/// the migration while it runs, since the migration waits until no earlier version runs.
@Suite("Saga documents as json and as text, before and after their contract migration")
struct SagaDocumentSchemaTests {
    static let migrations = TestPostgres.repositoryRoot.appendingPathComponent("schemas/postgres")
    static let contractFile = "0010_saga_documents_text.sql"

    /// The types of the three document columns: event, state, steps.
    static func documentTypes(_ url: String) async throws -> [String] {
        try await TestPostgres.strings(
            url,
            """
            SELECT table_name || '.' || column_name || ' ' || data_type FROM information_schema.columns
            WHERE table_schema = current_schema()
              AND (table_name, column_name) IN (('saga_events', 'event'), ('sagas', 'state'), ('sagas', 'steps'))
            ORDER BY 1
            """)
    }

    /// A store an earlier version migrated (up to 0009), then upgraded in place by this version's
    /// migrator without leave for contract migrations (so with the expand migrations after 0010):
    /// the state of a rolling upgrade.
    static func storeMidUpgrade() async throws -> String {
        let url = try await TestPostgres.freshSchema("docs").url
        let all = try PostgresMigrator(directory: migrations)
        _ = try await PostgresMigrator(migrations: all.migrations.filter { $0.version < 10 }).migrate(url: url)
        // Only the expand migrations after it apply (0011 onwards); the contract one waits.
        #expect(try await all.migrate(url: url).map(\.fileName) == all.migrations.filter { $0.version > 10 }.map(\.fileName))
        #expect(try await all.pending(url: url).map(\.fileName) == [contractFile])
        return url
    }

    /// Starts `count` transfers named `prefix0`, `prefix1`, …; one in five declines its credit.
    static func startTransfers(_ orchestrator: Orchestrator, _ prefix: String, count: Int) async throws {
        for index in 0..<count {
            try await orchestrator.start(
                "Transfer",
                input: StartTransfer(transferId: "\(prefix)\(index)", amount: 10 + index, declineDebit: false, declineCredit: index % 5 == 0),
                idempotencyKey: "\(prefix)\(index)")
        }
    }

    /// Waits until every saga of the store is terminal, and the outbox is drained.
    static func waitUntilSettled(_ url: String) async throws {
        try await eventually("every saga terminal") {
            try await TestPostgres.count(url, "SELECT count(*)::bigint FROM sagas WHERE status NOT IN ('completed', 'compensated')") == 0
        }
        try await eventually("the outbox drains") {
            try await TestPostgres.count(url, "SELECT count(*)::bigint FROM outbox") == 0
        }
    }

    /// The document type `orchestrator`'s processor binds.
    static func documentColumns(of orchestrator: Orchestrator, _ url: String) async throws -> SagaDocumentColumns {
        let connection = try await PostgresConnection.connect(to: url)
        defer { Task { await connection.close() } }
        return try await orchestrator.processor.documentColumns(on: connection)
    }

    /// Every saga of the store replays to its snapshot, and its detail reads back.
    static func expectStoreReplays(_ url: String, sagas: Int) async throws {
        let pool = PostgresPool(url: url, minimumConnections: 0, maximumConnections: 2)
        var registry = SagaRegistry()
        try registry.register(transferSaga())
        let replay = try await StoreReplay(pool: pool, registry: registry).run(SagaListFilter())
        #expect(replay.checked == sagas && replay.identical == sagas, "\(replay.findings.prefix(3))")
        let detail = try #require(try await SagaQueries(pool: pool).saga(id: "Transfer-a1"))
        #expect(detail.steps.map(\.name) == ["debit", "credit", "notify"])
        #expect(detail.state != .null)
        await pool.close()
    }

    @Test("a batch binds its documents as the store's type: the statements and the arrays' element type", arguments: [
        SagaDocumentColumns.text, .json,
    ])
    func batchBindsTheStoresType(documents: SagaDocumentColumns) throws {
        var registry = SagaRegistry()
        try registry.register(transferSaga())
        let definition = try registry.latest(name: "Transfer")
        let input = StartTransfer(transferId: "t1", amount: 5, declineDebit: false, declineCredit: false)
        let decision = try definition.decide(
            definition.newInstance(sagaId: "Transfer-t1"),
            .start(
                envelope: MessageEnvelope(id: "m1", source: "test", type: StartTransfer.messageType, time: Date()),
                payload: Array(try JSONEncoder().encode(input))),
            now: Date())
        var writes = BatchWrites(documents: documents)
        writes.add(decision, startsSaga: true)
        let statements = writes.statements()
        let arrayType = documents.element.arrayType.oid
        // Text binds to json columns fail in Postgres; json binds to text columns would only be
        // checked for nothing, so this is what shows the text store is written as text.
        let events = try #require(statements.first { $0.sql == documents.statements.appendEvents })
        #expect(events.bindings.parameterTypes[4] == arrayType)
        let snapshots = try #require(statements.first { $0.sql == documents.statements.insertSnapshots })
        #expect(snapshots.bindings.parameterTypes[5] == arrayType)
        #expect(snapshots.bindings.parameterTypes[6] == arrayType)
        #expect(documents.statements.appendEvents.contains("$5::\(documents.sqlArrayType)"))
    }

    @Test("a new store keeps the documents as text, and an earlier version's json arrays still fit it")
    func newStoreKeepsText() async throws {
        let url = try await TestPostgres.freshStore("doctext")
        #expect(try await Self.documentTypes(url) == ["saga_events.event text", "sagas.state text", "sagas.steps text"])
        let connection = try await PostgresConnection.connect(to: url)
        #expect(try await SagaDocumentColumns.read(on: connection) == .text)
        // The statement of versions before 0010, which bound the bodies as json[].
        var ids = PostgresArrayWriter(of: .text)
        var sequences = PostgresArrayWriter(of: .int4)
        var types = PostgresArrayWriter(of: .text)
        var times = PostgresArrayWriter(of: .timestamptz)
        var bodies = PostgresArrayWriter(of: .json)
        ids.append("s1")
        sequences.append(1)
        types.append("saga.started")
        times.append(Date())
        bodies.append(#"{"type": "saga.started"}"#)
        try await connection.query(
            PostgresQuery(
                PumpStatements.DocumentWrites.json.appendEvents,
                [ids.value, sequences.value, types.value, times.value, bodies.value]))
        // Binding text arrays to json columns is what fails; this version never does it.
        #expect(try await TestPostgres.strings(url, "SELECT event FROM saga_events") == [#"{"type": "saga.started"}"#])
        await connection.close()
    }

    @Test("mid-upgrade, with json documents, sagas run to their end, replay, and say why they refuse")
    func runsOnJSONDocuments() async throws {
        let url = try await Self.storeMidUpgrade()
        #expect(try await Self.documentTypes(url) == ["saga_events.event json", "sagas.state json", "sagas.steps json"])
        let participants = TransferParticipants()
        try await withTransferSystem(participants: participants, store: url) { orchestrator, url, _ in
            try await Self.startTransfers(orchestrator, "a", count: 30)
            try await Self.waitUntilSettled(url)
            #expect(try await TestPostgres.count(url, "SELECT count(*)::bigint FROM sagas WHERE status = 'compensated'") == 6)
            for index in 0..<30 { #expect(participants.effects("a\(index)", "debit") == 1, "a\(index)") }
            // The refusal's reason is read from inside the event body.
            let refused = try await orchestrator.operate(sagaId: "Transfer-a1", command: OperatorCommand(.retry, actor: "ops"))
            #expect(refused == .rejected(reason: "the saga is completed"))
        }
        try await Self.expectStoreReplays(url, sagas: 30)
    }

    @Test("the contract migration under a running orchestrator: sagas go on across it, and a restarted one writes text")
    func contractMigrationOnAStoreInUse() async throws {
        let url = try await Self.storeMidUpgrade()
        let participants = TransferParticipants()
        try await withTransferSystem(participants: participants, store: url) { orchestrator, url, _ in
            try await Self.startTransfers(orchestrator, "a", count: 30)
            // While the orchestrator runs: sagas are mid-flight as the columns change type under
            // its prepared statements, which go on binding json arrays.
            let applied = try await PostgresMigrator(directory: Self.migrations).migrate(url: url, contract: .apply)
            #expect(applied.map(\.fileName) == [Self.contractFile])
            #expect(try await Self.documentTypes(url) == ["saga_events.event text", "sagas.state text", "sagas.steps text"])
            #expect(try await Self.documentColumns(of: orchestrator, url) == .json, "read once, before the migration")
            try await Self.startTransfers(orchestrator, "b", count: 30)
            try await Self.waitUntilSettled(url)
            let refused = try await orchestrator.operate(sagaId: "Transfer-b1", command: OperatorCommand(.retry, actor: "ops"))
            #expect(refused == .rejected(reason: "the saga is completed"))
        }
        // A new process reads the new type and binds text.
        try await withTransferSystem(participants: participants, store: url) { orchestrator, url, _ in
            try await Self.startTransfers(orchestrator, "c", count: 30)
            try await Self.waitUntilSettled(url)
            #expect(try await Self.documentColumns(of: orchestrator, url) == .text)
        }
        #expect(try await TestPostgres.count(url, "SELECT count(*)::bigint FROM sagas WHERE status = 'compensated'") == 18)
        for id in (0..<30).flatMap({ ["a\($0)", "b\($0)", "c\($0)"] }) {
            #expect(participants.effects(id, "debit") == 1, "\(id)")
        }
        try await Self.expectStoreReplays(url, sagas: 90)
    }

    @Test("migrated back to json under a process that read text: its next batch reads the type again, and nothing is dead-lettered")
    func rollbackUnderARunningOrchestrator() async throws {
        let url = try await TestPostgres.freshStore("docback")
        let participants = TransferParticipants()
        try await withTransferSystem(participants: participants, store: url) { orchestrator, url, _ in
            try await Self.startTransfers(orchestrator, "a", count: 20)
            try await Self.waitUntilSettled(url)
            #expect(try await Self.documentColumns(of: orchestrator, url) == .text)
            // The rollback the upgrade notes give, one table at a time, while the process runs.
            let connection = try await PostgresConnection.connect(to: url)
            try await connection.query("ALTER TABLE saga_events ALTER COLUMN event TYPE json USING event::json")
            try await connection.query(
                "ALTER TABLE sagas ALTER COLUMN state TYPE json USING state::json, ALTER COLUMN steps TYPE json USING steps::json")
            await connection.close()
            #expect(try await Self.documentTypes(url) == ["saga_events.event json", "sagas.state json", "sagas.steps json"])
            try await Self.startTransfers(orchestrator, "b", count: 20)
            try await Self.waitUntilSettled(url)
            #expect(try await Self.documentColumns(of: orchestrator, url) == .json)
            #expect(try await TestPostgres.count(url, "SELECT count(*)::bigint FROM dead_letters") == 0)
        }
        for id in (0..<20).flatMap({ ["a\($0)", "b\($0)"] }) {
            #expect(participants.effects(id, "debit") == 1, "\(id)")
        }
        try await Self.expectStoreReplays(url, sagas: 40)
    }

    @Test("a store whose event column is neither json nor text is refused with a clear error")
    func unknownColumnTypeIsRefused() async throws {
        let url = try await TestPostgres.freshSchema("docbad").url
        let connection = try await PostgresConnection.connect(to: url)
        do {
            let error = await #expect(throws: SagaRuntimeError.self) { try await SagaDocumentColumns.read(on: connection) }
            #expect(error?.message.contains("missing") == true, "\(String(describing: error))")
            try await connection.query("CREATE TABLE saga_events (saga_id text, event bytea)")
            let typed = await #expect(throws: SagaRuntimeError.self) { try await SagaDocumentColumns.read(on: connection) }
            #expect(typed?.message.contains("of type bytea") == true, "\(String(describing: typed))")
        }
        await connection.close()
    }
}
