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

    func run() async throws {
        let migrator = try PostgresMigrator(directory: URL(fileURLWithPath: migrations))
        let applied = try await migrator.migrate(url: try postgres.requiredURL())
        if applied.isEmpty {
            print("skald: the database is up to date (\(migrator.migrations.count) migrations)")
        } else {
            for migration in applied {
                print("skald: applied \(migration.fileName)")
            }
        }
    }
}
