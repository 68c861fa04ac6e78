import Foundation
import SkaldPostgres
import Testing

@Suite("Migrations")
struct MigratorTests {
    static func fixtures() throws -> URL {
        try #require(Bundle.module.url(forResource: "migrations", withExtension: nil, subdirectory: "Fixtures"))
    }

    /// A private copy of the fixture migrations that a test may modify.
    static func copyOfFixtures() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(TestDatabase.uniqueName("migrations"))
        try FileManager.default.copyItem(at: try fixtures(), to: directory)
        return directory
    }

    static func lockKey() -> Int64 { Int64.random(in: 1...Int64.max) }

    static func widgetsHaveColor(_ url: String) async throws -> Bool {
        let connection = try await PostgresConnection.connect(to: url)
        let count = try await connection.query(
            """
            SELECT count(*) FROM information_schema.columns
            WHERE table_schema = current_schema() AND table_name = 'widgets' AND column_name = 'color'
            """
        ).first?.decode(Int.self, at: 0)
        await connection.close()
        return count == 1
    }

    @Test func loadsFilesInNumericOrderIgnoringOthers() throws {
        let migrator = try PostgresMigrator(directory: try Self.fixtures())
        #expect(migrator.migrations.map(\.version) == [1, 2])
        #expect(migrator.migrations.map(\.name) == ["create_widgets", "add_widget_color"])
        #expect(migrator.migrations.allSatisfy { $0.checksum.count == 64 })
    }

    @Test func appliedTwiceAppliesOnce() async throws {
        let (url, _) = try await TestDatabase.urlWithFreshSchema("mig_twice")
        let migrator = try PostgresMigrator(directory: try Self.fixtures(), lockKey: Self.lockKey())
        let first = try await migrator.migrate(url: url)
        #expect(first.map(\.version) == [1, 2])
        let second = try await migrator.migrate(url: url)
        #expect(second.isEmpty)

        let connection = try await PostgresConnection.connect(to: url)
        #expect(try await connection.query("SELECT count(*) FROM widgets").first?.decode(Int.self, at: 0) == 1)
        let recorded = try await connection.query("SELECT version, name, checksum FROM skald_schema_migrations ORDER BY version")
        #expect(try recorded.decode(Int.self) == [1, 2])
        #expect(try recorded[1].decode(String.self, named: "checksum") == migrator.migrations[1].checksum)
        await connection.close()
    }

    @Test("pending lists what is not applied yet, all of it on a database that has none, and applies nothing")
    func pendingMigrations() async throws {
        let (url, _) = try await TestDatabase.urlWithFreshSchema("mig_pending")
        let migrator = try PostgresMigrator(directory: try Self.fixtures(), lockKey: Self.lockKey())
        let connection = try await PostgresConnection.connect(to: url)
        #expect(try await migrator.pending(on: connection).map(\.version) == [1, 2])
        #expect(try await connection.query("SELECT to_regclass('widgets') IS NULL").first?.decode(Bool.self, at: 0) == true)
        _ = try await migrator.migrate(on: connection)
        #expect(try await migrator.pending(on: connection).isEmpty)
        _ = try await connection.execute("DELETE FROM skald_schema_migrations WHERE version = 2")
        #expect(try await migrator.pending(on: connection).map(\.version) == [2])
        await connection.close()
    }

    @Test func twoConnectionsAtOnceApplyOnce() async throws {
        let (url, _) = try await TestDatabase.urlWithFreshSchema("mig_race")
        let migrator = try PostgresMigrator(directory: try Self.fixtures(), lockKey: Self.lockKey())
        let first = try await PostgresConnection.connect(to: url)
        let second = try await PostgresConnection.connect(to: url)
        async let a = migrator.migrate(on: first)
        async let b = migrator.migrate(on: second)
        let (appliedByA, appliedByB) = try await (a, b)
        #expect((appliedByA + appliedByB).map(\.version).sorted() == [1, 2])
        #expect(try await first.query("SELECT count(*) FROM skald_schema_migrations").first?.decode(Int.self, at: 0) == 2)
        #expect(try await first.query("SELECT count(*) FROM widgets").first?.decode(Int.self, at: 0) == 1)
        await first.close()
        await second.close()
    }

    @Test func changedAppliedFileIsAnErrorNamingIt() async throws {
        let (url, _) = try await TestDatabase.urlWithFreshSchema("mig_changed")
        let directory = try Self.copyOfFixtures()
        let lockKey = Self.lockKey()
        try await PostgresMigrator(directory: directory, lockKey: lockKey).migrate(url: url)
        let file = directory.appendingPathComponent("0001_create_widgets.sql")
        try (String(contentsOf: file, encoding: .utf8) + "\n-- edited\n").write(to: file, atomically: true, encoding: .utf8)
        let error = await expectPostgresError { try await PostgresMigrator(directory: directory, lockKey: lockKey).migrate(url: url) }
        #expect(error?.code == .migration)
        #expect(error?.message.contains("0001_create_widgets.sql") == true)
        #expect(error?.message.contains("changed") == true)
    }

    @Test func newFileIsAppliedLater() async throws {
        let (url, _) = try await TestDatabase.urlWithFreshSchema("mig_later")
        let directory = try Self.copyOfFixtures()
        let lockKey = Self.lockKey()
        try await PostgresMigrator(directory: directory, lockKey: lockKey).migrate(url: url)
        try "INSERT INTO widgets (name, color) VALUES ('late', 'red');"
            .write(to: directory.appendingPathComponent("0010_late_widget.sql"), atomically: true, encoding: .utf8)
        let applied = try await PostgresMigrator(directory: directory, lockKey: lockKey).migrate(url: url)
        #expect(applied.map(\.version) == [10])
    }

    @Test("a contract migration waits on a store in use, while later expand migrations apply, until told every old version stopped")
    func contractMigrationWaitsOnAStoreInUse() async throws {
        let (url, _) = try await TestDatabase.urlWithFreshSchema("mig_contract")
        let directory = try Self.copyOfFixtures()
        let lockKey = Self.lockKey()
        try await PostgresMigrator(directory: directory, lockKey: lockKey).migrate(url: url)
        try "-- drops what the old version reads\n  -- skald:contract\nALTER TABLE widgets DROP COLUMN color;\n"
            .write(to: directory.appendingPathComponent("0003_drop_widget_color.sql"), atomically: true, encoding: .utf8)
        try "INSERT INTO widgets (name) VALUES ('expanded');"
            .write(to: directory.appendingPathComponent("0004_expanded_widget.sql"), atomically: true, encoding: .utf8)
        let migrator = try PostgresMigrator(directory: directory, lockKey: lockKey)
        #expect(migrator.migrations.map(\.isContract) == [false, false, true, false])

        let applied = try await migrator.migrate(url: url)
        #expect(applied.map(\.version) == [4])
        #expect(try await migrator.pending(url: url).map(\.version) == [3])
        #expect(try await Self.widgetsHaveColor(url))
        #expect(try await migrator.migrate(url: url).isEmpty, "asked again without leave, it still waits")

        let contract = try await migrator.migrate(url: url, contract: .apply)
        #expect(contract.map(\.version) == [3])
        #expect(try await migrator.pending(url: url).isEmpty)
        #expect(try await !Self.widgetsHaveColor(url))
    }

    /// A fresh schema with the fixtures applied, and a migrator over a copy of them that adds
    /// `0003_widget_size.sql`: `prelude`, then `ALTER TABLE widgets ADD COLUMN size integer`.
    static func storeWithPendingWidgetSize(_ prefix: String, _ prelude: String) async throws -> (url: String, migrator: PostgresMigrator) {
        let (url, _) = try await TestDatabase.urlWithFreshSchema(prefix)
        let directory = try copyOfFixtures()
        let key = lockKey()
        try await PostgresMigrator(directory: directory, lockKey: key).migrate(url: url)
        try (prelude + "\nALTER TABLE widgets ADD COLUMN size integer;\n")
            .write(to: directory.appendingPathComponent("0003_widget_size.sql"), atomically: true, encoding: .utf8)
        return (url, try PostgresMigrator(directory: directory, lockKey: key))
    }

    @Test("a file that loses a deadlock, then waits past its lock timeout, goes again and applies on its third try")
    func lockConflictIsTriedAgain() async throws {
        // A sequence counts the tries across their rollbacks; the first two fail as a lost
        // deadlock and a lock timeout would, without depending on how fast the machine is.
        let (url, migrator) = try await Self.storeWithPendingWidgetSize(
            "mig_lock",
            """
            DO $$ BEGIN
              CASE nextval('migration_tries')
                WHEN 1 THEN RAISE EXCEPTION 'deadlock detected (staged)' USING ERRCODE = 'deadlock_detected';
                WHEN 2 THEN RAISE EXCEPTION 'canceling statement due to lock timeout (staged)' USING ERRCODE = 'lock_not_available';
                ELSE NULL;
              END CASE;
            END $$;
            """)
        let connection = try await PostgresConnection.connect(to: url)
        try await connection.query("CREATE SEQUENCE migration_tries")

        let applied = try await migrator.migrate(url: url)
        #expect(applied.map(\.version) == [3])
        #expect(try await connection.query("SELECT last_value FROM migration_tries").first?.decode(Int.self, at: 0) == 3)
        #expect(
            try await connection.query(
                "SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'widgets' AND column_name = 'size'"
            ).first?.decode(Int.self, at: 0) == 1)
        await connection.close()
    }

    @Test("a lock conflict that outlasts every try fails the file, naming it and the tries")
    func lockConflictThatLastsFails() async throws {
        let (url, migrator) = try await Self.storeWithPendingWidgetSize("mig_lock_fail", "SET LOCAL lock_timeout = '20ms';")
        // A transaction that reads widgets holds a lock the ALTER waits for, every time.
        let holder = try await PostgresConnection.connect(to: url)
        try await holder.query("BEGIN")
        try await holder.query("LOCK TABLE widgets IN ACCESS SHARE MODE")
        let error = await expectPostgresError { try await migrator.migrate(url: url) }
        #expect(error?.code == .migration)
        #expect(error?.sqlState == "55P03")
        #expect(
            error?.message.contains("0003_widget_size.sql failed \(PostgresMigrator.lockConflictAttempts) times") == true,
            "\(String(describing: error))")
        try await holder.query("ROLLBACK")
        await holder.close()
        #expect(try await migrator.pending(url: url).map(\.version) == [3])
    }

    @Test("on a new store, contract migrations apply with the rest: no earlier version can be using it")
    func contractMigrationAppliesOnANewStore() async throws {
        let (url, _) = try await TestDatabase.urlWithFreshSchema("mig_contract_new")
        let directory = try Self.copyOfFixtures()
        try "-- skald:contract\nALTER TABLE widgets DROP COLUMN color;\n"
            .write(to: directory.appendingPathComponent("0003_drop_widget_color.sql"), atomically: true, encoding: .utf8)
        let applied = try await PostgresMigrator(directory: directory, lockKey: Self.lockKey()).migrate(url: url)
        #expect(applied.map(\.version) == [1, 2, 3])
    }

    @Test("the marker counts only as a whole line: a mention of it does not make a contract migration")
    func contractMarkerIsAWholeLine() throws {
        let mention = try PostgresMigrator.parse(
            fileName: "0005_note.sql", bytes: Array("-- see -- skald:contract in the docs\nSELECT 1;".utf8))
        #expect(!mention.isContract)
        let marked = try PostgresMigrator.parse(fileName: "0006_drop.sql", bytes: Array("\t-- skald:contract \r\nSELECT 1;".utf8))
        #expect(marked.isContract)
    }

    @Test(arguments: ["create_widgets.sql", "0003-dash.sql", "12_.sql", "x1_name.sql", "0004_sp ace.sql"])
    func malformedFileNameIsAnError(_ name: String) throws {
        let directory = try Self.copyOfFixtures()
        try "SELECT 1;".write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
        #expect {
            _ = try PostgresMigrator(directory: directory)
        } throws: { error in
            guard let error = error as? PostgresError else { return false }
            return error.code == .migration && error.message.contains(name)
        }
    }

    @Test func duplicateVersionIsAnError() throws {
        let directory = try Self.copyOfFixtures()
        try "SELECT 1;".write(to: directory.appendingPathComponent("2_again.sql"), atomically: true, encoding: .utf8)
        #expect {
            _ = try PostgresMigrator(directory: directory)
        } throws: { error in
            (error as? PostgresError)?.message.contains("same version 2") == true
        }
    }

    @Test func failingMigrationRollsBackAndNamesTheFile() async throws {
        let (url, _) = try await TestDatabase.urlWithFreshSchema("mig_fail")
        let directory = try Self.copyOfFixtures()
        try "CREATE TABLE gadgets (id int);\nINSERT INTO no_such_table VALUES (1);"
            .write(to: directory.appendingPathComponent("0003_broken.sql"), atomically: true, encoding: .utf8)
        let error = await expectPostgresError { try await PostgresMigrator(directory: directory, lockKey: Self.lockKey()).migrate(url: url) }
        #expect(error?.code == .migration)
        #expect(error?.sqlState == "42P01")
        #expect(error?.message.contains("0003_broken.sql") == true)

        let connection = try await PostgresConnection.connect(to: url)
        #expect(try await connection.query("SELECT count(*) FROM skald_schema_migrations").first?.decode(Int.self, at: 0) == 2)
        #expect(try await connection.query("SELECT to_regclass('gadgets') IS NULL").first?.decode(Bool.self, at: 0) == true)
        await connection.close()
    }

    @Test func missingDirectoryIsAnError() {
        #expect {
            _ = try PostgresMigrator(directory: URL(fileURLWithPath: "/nonexistent/\(TestDatabase.uniqueName("dir"))"))
        } throws: { error in
            (error as? PostgresError)?.code == .migration
        }
    }
}
