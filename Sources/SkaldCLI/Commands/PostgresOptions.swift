import ArgumentParser
import Foundation

/// The `--postgres` option shared by every command that talks to Postgres.
struct PostgresOptions: ParsableArguments {
    @Option(
        name: .customLong("postgres"),
        help: "Postgres URL or conninfo (default: $SKALD_POSTGRES_URL)."
    )
    var url: String?

    /// The URL from the option or the environment, or a usage error that says how to give one.
    func requiredURL() throws -> String {
        if let url, !url.isEmpty { return url }
        if let url = ProcessInfo.processInfo.environment["SKALD_POSTGRES_URL"], !url.isEmpty { return url }
        throw ValidationError(
            "no Postgres to talk to: pass --postgres URL or set SKALD_POSTGRES_URL "
                + "(scripts/postgres.sh start NAME starts a throwaway one and prints its URL)"
        )
    }
}
