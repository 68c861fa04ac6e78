import ArgumentParser
import Foundation
import SkaldPostgres

/// `skald migrate`: applies the Postgres migrations in order, each exactly once.
///
/// Safe to run from several processes at once: the migrator holds an advisory lock.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply Skald's Postgres migrations (each exactly once, in order)."
    )

    @OptionGroup var postgres: PostgresOptions

    @Option(help: "The folder of NNNN_name.sql migration files.")
    var migrations: String = "schemas/postgres"

    @Flag(
        help: """
            Also apply contract migrations (marked `-- skald:contract`), which remove what earlier \
            versions use. Only once every orchestrator runs this version; on a new store they apply anyway.
            """)
    var contract = false

    func run() async throws {
        let url = try postgres.requiredURL()
        let migrator = try PostgresMigrator(directory: URL(fileURLWithPath: migrations))
        let applied = try await migrator.migrate(url: url, contract: contract ? .apply : .onNewStore)
        let waiting = try await migrator.pending(url: url)
        if applied.isEmpty && waiting.isEmpty {
            print("skald: the database is up to date (\(migrator.migrations.count) migrations)")
        }
        for migration in applied {
            print("skald: applied \(migration.fileName)")
        }
        for migration in waiting {
            print(
                "skald: \(migration.fileName) waits: a contract migration; run `skald migrate --contract` "
                    + "once no orchestrator of an earlier version runs")
        }
    }
}
