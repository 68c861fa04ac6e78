public import Foundation

/// One migration file: `NNNN_name.sql`.
public struct PostgresMigration: Sendable, Hashable {
    /// The number before the first underscore; migrations apply in ascending order.
    public var version: Int
    /// The part between the underscore and `.sql`.
    public var name: String
    /// The file name, for messages.
    public var fileName: String
    /// The SQL text (may hold several statements).
    public var sql: String
    /// SHA-256 of the file's bytes, to detect a file changed after it was applied.
    public var checksum: String

    /// The line that marks a contract migration, among the file's lines.
    public static let contractMarker = "-- skald:contract"

    /// Whether this migration removes something that processes of an earlier version still
    /// use (a line `-- skald:contract` in the file), so that it may only run once they have
    /// all stopped. Code of this version works with and without it.
    ///
    /// Expand migrations (every other one) add what a new version needs and leave the old one
    /// working, so they apply whenever a new version starts. A contract migration waits for
    /// ``PostgresMigrator/ContractMigrations/apply``, except on a new store.
    public var isContract: Bool {
        sql.split(whereSeparator: \.isNewline).contains {
            $0.trimmingCharacters(in: .whitespaces) == Self.contractMarker
        }
    }
}

/// Applies `NNNN_name.sql` files exactly once each, in numeric order.
///
/// Applied migrations are recorded (version, name, checksum, time) in
/// `skald_schema_migrations` in the session's current schema. Each file runs in its own
/// transaction together with its record, so a failing file leaves nothing behind; one that
/// lost a deadlock or waited past its lock timeout, against the transactions of a store in
/// use, goes again (up to ``lockConflictAttempts`` times). A session-level advisory lock
/// serialises migrators, so several processes starting at once apply each file once: the
/// others wait, then find it recorded.
///
/// A contract migration (``PostgresMigration/isContract``) is left for later on a store that
/// has migrations applied already, unless the caller says every earlier version has stopped
/// (``ContractMigrations/apply``); expand migrations numbered after it still apply. So a
/// rolling upgrade never takes away what a process still running the old version needs.
public struct PostgresMigrator: Sendable {
    /// Whether ``migrate(on:contract:)`` applies contract migrations.
    public enum ContractMigrations: Sendable {
        /// Only on a store with no migration applied yet, where no earlier version can be
        /// running; on any other store they wait.
        case onNewStore
        /// Applies them too: no process of an earlier version uses the store any more.
        case apply
    }

    /// The migrations found, sorted by version.
    public let migrations: [PostgresMigration]
    /// The key of the `pg_advisory_lock` migrators share.
    public let lockKey: Int64

    /// How often a file that lost a deadlock or waited past its lock timeout is tried.
    public static let lockConflictAttempts = 5

    /// The default advisory lock key ("skald" in ASCII); any migrator in the database uses it.
    public static let defaultLockKey: Int64 = 0x736b_616c_64

    /// Loads the migrations of `directory`.
    ///
    /// Files not ending in `.sql` are ignored. A `.sql` file whose name is not
    /// `<digits>_<name>.sql`, or two files with the same version, is an error naming the file.
    public init(directory: URL, lockKey: Int64 = PostgresMigrator.defaultLockKey) throws {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw PostgresError(code: .migration, message: "cannot read the migrations directory \(directory.path): \(error.localizedDescription)")
        }
        var migrations: [PostgresMigration] = []
        for fileName in names where fileName.hasSuffix(".sql") && !fileName.hasPrefix(".") {
            let url = directory.appendingPathComponent(fileName)
            let bytes: [UInt8]
            do {
                bytes = Array(try Data(contentsOf: url))
            } catch {
                throw PostgresError(code: .migration, message: "cannot read migration \(fileName): \(error.localizedDescription)")
            }
            migrations.append(try Self.parse(fileName: fileName, bytes: bytes))
        }
        try self.init(migrations: migrations, lockKey: lockKey)
    }

    /// Uses migrations built in memory (e.g. embedded in the executable).
    public init(migrations: [PostgresMigration], lockKey: Int64 = PostgresMigrator.defaultLockKey) throws {
        let sorted = migrations.sorted { $0.version < $1.version }
        for (previous, next) in zip(sorted, sorted.dropFirst()) where previous.version == next.version {
            throw PostgresError(
                code: .migration,
                message: "migrations \(previous.fileName) and \(next.fileName) have the same version \(next.version)"
            )
        }
        self.migrations = sorted
        self.lockKey = lockKey
    }

    /// Parses a migration file name and contents.
    public static func parse(fileName: String, bytes: [UInt8]) throws -> PostgresMigration {
        let stem = fileName.dropLast(4)  // ".sql"
        let parts = stem.split(separator: "_", maxSplits: 1)
        guard parts.count == 2,
              !parts[0].isEmpty, parts[0].allSatisfy({ $0.isASCII && $0.isNumber }),
              let version = Int(parts[0]),
              !parts[1].isEmpty,
              parts[1].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") })
        else {
            throw PostgresError(
                code: .migration,
                message: "malformed migration file name \"\(fileName)\": expected NNNN_name.sql (digits, underscore, letters/digits/_/-)"
            )
        }
        guard let sql = String(validating: bytes, as: UTF8.self) else {
            throw PostgresError(code: .migration, message: "migration \(fileName) is not valid UTF-8")
        }
        return PostgresMigration(
            version: version,
            name: String(parts[1]),
            fileName: fileName,
            sql: sql,
            checksum: SHA256.hexDigest(bytes)
        )
    }

    /// Applies the pending migrations on `connection` and returns those it applied (in order).
    ///
    /// - Parameter contract: whether contract migrations apply on a store that has others
    ///   applied already (``ContractMigrations``); those left wait in ``pending(on:)``.
    /// - Throws: `.migration` naming the file when an applied file changed, or when a file
    ///   fails (with the server's SQLSTATE and message; a lock conflict only after
    ///   ``lockConflictAttempts`` tries); earlier files stay applied.
    @discardableResult
    public func migrate(on connection: PostgresConnection, contract: ContractMigrations = .onNewStore) async throws
        -> [PostgresMigration]
    {
        try await connection.query("SELECT pg_advisory_lock(\(lockKey))")
        do {
            let applied = try await apply(on: connection, contract: contract)
            try await connection.query("SELECT pg_advisory_unlock(\(lockKey))")
            return applied
        } catch {
            // Unlock even on failure; if the connection is gone the server released the lock already.
            _ = try? await connection.query("SELECT pg_advisory_unlock(\(lockKey))")
            throw error
        }
    }

    /// Connects to `url`, applies the pending migrations and disconnects.
    @discardableResult
    public func migrate(url: String, contract: ContractMigrations = .onNewStore) async throws -> [PostgresMigration] {
        let connection = try await PostgresConnection.connect(to: url)
        do {
            let applied = try await migrate(on: connection, contract: contract)
            await connection.close()
            return applied
        } catch {
            await connection.close()
            throw error
        }
    }

    /// The migrations not applied yet on `connection`'s database (all of them when it has none),
    /// in order; it applies nothing. A process that needs the newest schema checks this at start,
    /// leaving out contract migrations, which its code does not need.
    public func pending(on connection: PostgresConnection) async throws -> [PostgresMigration] {
        let exists = try await connection.query("SELECT to_regclass('skald_schema_migrations') IS NOT NULL").first?
            .decode(Bool.self, at: 0) ?? false
        guard exists else { return migrations }
        let applied = Set(try await connection.query("SELECT version FROM skald_schema_migrations").decode(Int.self))
        return migrations.filter { !applied.contains($0.version) }
    }

    /// Connects to `url`, reads ``pending(on:)`` and disconnects.
    public func pending(url: String) async throws -> [PostgresMigration] {
        let connection = try await PostgresConnection.connect(to: url)
        do {
            let pending = try await pending(on: connection)
            await connection.close()
            return pending
        } catch {
            await connection.close()
            throw error
        }
    }

    private func apply(on connection: PostgresConnection, contract: ContractMigrations) async throws -> [PostgresMigration] {
        try await connection.executeScript("""
            CREATE TABLE IF NOT EXISTS skald_schema_migrations (
                version bigint PRIMARY KEY,
                name text NOT NULL,
                checksum text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """)
        var recorded: [Int: (name: String, checksum: String)] = [:]
        for row in try await connection.query("SELECT version, name, checksum FROM skald_schema_migrations") {
            let (version, name, checksum) = try row.decode((Int, String, String).self)
            recorded[version] = (name, checksum)
        }
        // A store without a recorded migration is new: no earlier version can be using it.
        let appliesContract = contract == .apply || recorded.isEmpty
        var applied: [PostgresMigration] = []
        for migration in migrations {
            if let existing = recorded[migration.version] {
                guard existing.checksum == migration.checksum, existing.name == migration.name else {
                    throw PostgresError(
                        code: .migration,
                        message: "migration \(migration.fileName) was changed after it was applied "
                            + "(recorded as \(migration.version)_\(existing.name) with checksum \(existing.checksum), "
                            + "the file now has \(migration.checksum)); add a new migration instead"
                    )
                }
                continue
            }
            if migration.isContract, !appliesContract { continue }
            var attempt = 1
            while true {
                do {
                    try await connection.withTransaction { connection in
                        try await connection.executeScript(migration.sql)
                        try await connection.query("""
                            INSERT INTO skald_schema_migrations (version, name, checksum) \
                            VALUES (\(migration.version), \(migration.name), \(migration.checksum))
                            """)
                    }
                    break
                } catch let error as PostgresError where error.isLockConflict && attempt < Self.lockConflictAttempts {
                    // A file that changes tables in use can lose a deadlock to the transactions
                    // using them, which lock the same tables in an order no file matches for
                    // all of them, or give up waiting at its `lock_timeout`. Its transaction
                    // rolled back whole, so it goes again.
                    try await Task.sleep(for: .milliseconds(250 * attempt))
                    attempt += 1
                } catch let error as PostgresError {
                    var failure = error
                    failure.code = .migration
                    failure.message = "migration \(migration.fileName) failed"
                        + (error.isLockConflict ? " \(attempt) times" : "") + ": \(error.message)"
                    throw failure
                }
            }
            applied.append(migration)
        }
        return applied
    }
}
