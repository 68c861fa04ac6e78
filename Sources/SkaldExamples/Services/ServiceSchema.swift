public import SkaldPostgres
import SkaldRuntime

/// The tables every example service has besides its own: an inbox and an outbox.
///
/// The outbox has the columns SkaldRuntime's ``OutboxRelay`` reads, so each service
/// reuses that relay on its own schema (lanes are per schema).
public enum ServiceSchema {
    /// The migrations of `handler`'s schema: the inbox and outbox, its own tables, the
    /// outbox's `json` columns, the inbox's age index (for `InboxPruner`), then the outbox's
    /// columns for ranges of saga events (which only the orchestrator writes), and last the
    /// contract migration that leaves the outbox one index (applied on a new schema, or when
    /// the services are told that no earlier version runs), then the outbox's `text` columns
    /// (``OutboxRelay/outboxTextColumnsSQL``) and the inbox's byte-wise ids
    /// (``inboxBytewiseSQL``), and last the handler's own later
    /// changes to its tables (``CommandHandler/tablesChanges``). Applied
    /// migrations never change; changes come as new ones. The index is built under a lock
    /// that holds back the service's inbox inserts while it builds: a service whose inbox grew
    /// large before pruning existed pauses for that long once, on upgrade.
    ///
    /// - Throws: a `PostgresError` when the embedded SQL cannot be read as a migration.
    public static func migrations(for handler: some CommandHandler) throws -> [PostgresMigration] {
        [
            try PostgresMigrator.parse(fileName: "0001_inbox_outbox.sql", bytes: Array(plumbingSQL.utf8)),
            try PostgresMigrator.parse(fileName: "0002_\(handler.serviceName)_tables.sql", bytes: Array(handler.tablesSQL.utf8)),
            try PostgresMigrator.parse(fileName: "0003_outbox_json.sql", bytes: Array(OutboxRelay.outboxJSONColumnsSQL.utf8)),
            try PostgresMigrator.parse(fileName: "0004_inbox_by_age.sql", bytes: Array(inboxByAgeSQL.utf8)),
            try PostgresMigrator.parse(fileName: "0005_outbox_event_ranges.sql", bytes: Array(OutboxRelay.outboxEventRangesSQL.utf8)),
            try PostgresMigrator.parse(fileName: "0006_outbox_one_index.sql", bytes: Array(OutboxRelay.outboxOneIndexSQL.utf8)),
            try PostgresMigrator.parse(fileName: "0007_outbox_text.sql", bytes: Array(OutboxRelay.outboxTextColumnsSQL.utf8)),
            try PostgresMigrator.parse(fileName: "0008_inbox_bytewise.sql", bytes: Array(inboxBytewiseSQL.utf8)),
        ]
            + (try handler.tablesChanges.enumerated().map { offset, change in
                try PostgresMigrator.parse(
                    fileName: "\(firstTablesChangeVersion + offset)_\(handler.serviceName)_\(change.name).sql",
                    bytes: Array(change.sql.utf8))
            })
    }

    /// The version of a handler's first ``CommandHandler/tablesChanges`` migration; the next are
    /// numbered on from it. Far above the inbox's and outbox's, which keep counting up below it
    /// (the migrator applies any version it has not recorded, whatever its place).
    public static let firstTablesChangeVersion = 101

    /// The index `InboxPruner` finds expired command ids by.
    public static let inboxByAgeSQL = """
        CREATE INDEX IF NOT EXISTS inbox_by_age ON inbox (received_at);

        """

    /// The inbox's message ids compare byte by byte, whatever the database's collation, as the
    /// saga store's do (`schemas/postgres/0009_bytewise_keys.sql` says why): every command
    /// inserts one.
    public static let inboxBytewiseSQL = """
        SET LOCAL lock_timeout = '10s';
        ALTER TABLE inbox ALTER COLUMN message_id TYPE text COLLATE "C";
        """

    /// The inbox and outbox, the same in every service; the outbox is the one ``OutboxRelay`` reads.
    public static let plumbingSQL = """
        -- Command ids already handled: a command delivered twice is applied once.
        CREATE TABLE inbox (
            message_id  text        PRIMARY KEY,
            received_at timestamptz NOT NULL DEFAULT now()
        );

        """ + OutboxRelay.outboxTableSQL
}
