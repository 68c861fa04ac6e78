import Foundation
import SkaldPostgres
import SkaldRuntime
import SkaldTestSupport
import Testing

/// The outbox before and after its contract migration (`0007_outbox_one_index.sql`): this
/// version must run on both, since the migration waits until no earlier version runs.
@Suite("The outbox's schema, before and after its contract migration")
struct OutboxSchemaTests {
    static let migrations = TestPostgres.repositoryRoot.appendingPathComponent("schemas/postgres")

    /// The outbox's indexes, by name.
    static func outboxIndexes(_ url: String) async throws -> [String] {
        try await TestPostgres.strings(
            url, "SELECT indexname::text FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'outbox' ORDER BY 1")
    }

    /// A store that an earlier version migrated (up to 0006), then upgraded in place by this
    /// version's migrator without leave for contract migrations: the state of a rolling upgrade.
    static func storeMidUpgrade() async throws -> String {
        let url = try await TestPostgres.freshSchema("upgrade").url
        let all = try PostgresMigrator(directory: migrations)
        _ = try await PostgresMigrator(migrations: all.migrations.filter { $0.version < 7 }).migrate(url: url)
        let applied = try await all.migrate(url: url)
        #expect(applied.allSatisfy { !$0.isContract })
        return url
    }

    @Test("a new store's outbox has one index, its primary key on id")
    func newStoreHasOneIndex() async throws {
        let url = try await TestPostgres.freshStore("onex")
        #expect(try await Self.outboxIndexes(url) == ["outbox_pkey"])
        let key = try await TestPostgres.strings(url, "SELECT pg_get_indexdef('outbox_pkey'::regclass)")
        #expect(key.first?.hasSuffix("(id)") == true)
    }

    @Test("the outbox's headers and payload are text, and an earlier version's json inserts still fit them")
    func headersAndPayloadAreText() async throws {
        let url = try await TestPostgres.freshStore("obtext")
        let types = try await TestPostgres.strings(
            url,
            """
            SELECT data_type::text FROM information_schema.columns
            WHERE table_schema = current_schema() AND table_name = 'outbox' AND column_name IN ('headers', 'payload')
            ORDER BY column_name
            """)
        #expect(types == ["text", "text"])
        // The statement of versions before 0008, which sent both columns as json[].
        let connection = try await PostgresConnection.connect(to: url)
        try await connection.query(
            """
            INSERT INTO outbox (lane, message_id, saga_id, topic, message_key, headers, payload, first_sequence, last_sequence)
            SELECT x.lane, x.message_id, x.saga_id, x.topic, x.message_key, x.headers, x.payload, x.first_sequence, x.last_sequence
            FROM unnest('{3}'::smallint[], '{m1}'::text[], '{s1}'::text[], '{t}'::text[], '{k}'::text[],
                        ARRAY['[["ce_type","X"]]']::json[], ARRAY['{"a":1}']::json[], '{NULL}'::integer[], '{NULL}'::integer[])
              AS x(lane, message_id, saga_id, topic, message_key, headers, payload, first_sequence, last_sequence)
            """)
        await connection.close()
        #expect(try await TestPostgres.strings(url, "SELECT headers || ' ' || payload FROM outbox") == [#"[["ce_type","X"]] {"a":1}"#])
    }

    @Test("mid-upgrade, with the old indexes in place, sagas run to their end and the outbox drains")
    func runsOnTheStoreBeforeItsContractMigration() async throws {
        let url = try await Self.storeMidUpgrade()
        #expect(try await Self.outboxIndexes(url) == ["outbox_by_lane", "outbox_message_id_key", "outbox_pkey"])
        #expect(
            try await PostgresMigrator(directory: Self.migrations).pending(url: url).map(\.fileName)
                == ["0007_outbox_one_index.sql", "0010_saga_documents_text.sql"])
        let participants = TransferParticipants()
        try await withTransferSystem(participants: participants, store: url) { orchestrator, url, _ in
            for index in 0..<60 {
                try await orchestrator.start(
                    "Transfer",
                    input: StartTransfer(transferId: "u\(index)", amount: 10 + index, declineDebit: false, declineCredit: index % 5 == 0),
                    idempotencyKey: "u\(index)")
            }
            try await eventually("every saga terminal") {
                try await TestPostgres.count(
                    url, "SELECT count(*)::bigint FROM sagas WHERE status NOT IN ('completed', 'compensated')") == 0
            }
            try await eventually("the outbox drains") {
                try await TestPostgres.count(url, "SELECT count(*)::bigint FROM outbox") == 0
            }
            #expect(try await TestPostgres.count(url, "SELECT count(*)::bigint FROM sagas WHERE status = 'compensated'") == 12)
            for index in 0..<60 {
                #expect(participants.effects("u\(index)", "debit") == 1, "u\(index)")
            }
        }
    }

    @Test("the contract migration, once allowed, leaves one index, and sagas go on across it")
    func contractMigrationOnAStoreInUse() async throws {
        let url = try await Self.storeMidUpgrade()
        let participants = TransferParticipants()
        try await withTransferSystem(participants: participants, store: url) { orchestrator, url, _ in
            for index in 0..<30 {
                try await orchestrator.start(
                    "Transfer", input: StartTransfer(transferId: "a\(index)", amount: 5, declineDebit: false, declineCredit: false),
                    idempotencyKey: "a\(index)")
            }
            // While the orchestrator runs: rows may be waiting in the outbox as the indexes change.
            let applied = try await PostgresMigrator(directory: Self.migrations).migrate(url: url, contract: .apply)
            #expect(applied.map(\.fileName) == ["0007_outbox_one_index.sql", "0010_saga_documents_text.sql"])
            #expect(try await Self.outboxIndexes(url) == ["outbox_pkey"])
            for index in 0..<30 {
                try await orchestrator.start(
                    "Transfer", input: StartTransfer(transferId: "b\(index)", amount: 5, declineDebit: false, declineCredit: false),
                    idempotencyKey: "b\(index)")
            }
            try await eventually("every saga completed") {
                try await TestPostgres.count(url, "SELECT count(*)::bigint FROM sagas WHERE status = 'completed'") == 60
            }
            try await eventually("the outbox drains") {
                try await TestPostgres.count(url, "SELECT count(*)::bigint FROM outbox") == 0
            }
            for id in (0..<30).flatMap({ ["a\($0)", "b\($0)"] }) {
                #expect(participants.effects(id, "credit") == 1, "\(id)")
            }
        }
    }
}
