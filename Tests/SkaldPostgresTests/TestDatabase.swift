import Foundation
import SkaldPostgres
import Testing

/// Access to the throwaway Postgres that `scripts/test.sh` starts.
enum TestDatabase {
    struct MissingDatabase: Error, CustomStringConvertible {
        var description: String {
            "SKALD_TEST_POSTGRES_URL is not set: run the tests with scripts/test.sh (make test), or start a cluster "
                + "with `scripts/postgres.sh start dev` and export SKALD_TEST_POSTGRES_URL=<the printed URL>"
        }
    }

    /// The server URL; fails the test (never skips it) when the variable is missing.
    static func url() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["SKALD_TEST_POSTGRES_URL"], !url.isEmpty else {
            throw MissingDatabase()
        }
        return url
    }

    static func connect() async throws -> PostgresConnection {
        try await PostgresConnection.connect(to: url())
    }

    /// A name no other test (or earlier run) uses: `prefix_<random hex>`.
    static func uniqueName(_ prefix: String) -> String {
        "\(prefix)_" + String(UInt64.random(in: 0...UInt64.max) & 0xffff_ffff_ffff, radix: 16)
    }

    /// Creates a fresh schema and returns a URL whose sessions use it as `search_path`.
    static func urlWithFreshSchema(_ prefix: String) async throws -> (url: String, schema: String) {
        let schema = uniqueName(prefix)
        let connection = try await connect()
        try await connection.query("CREATE SCHEMA \(identifier: schema)")
        await connection.close()
        let base = try url()
        let separator = base.contains("?") ? "&" : "?"
        return ("\(base)\(separator)options=-c%20search_path%3D\(schema)", schema)
    }

    /// Runs `body` with a connection and closes it afterwards.
    static func withConnection<Result>(_ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        let connection = try await connect()
        do {
            let result = try await body(connection)
            await connection.close()
            return result
        } catch {
            await connection.close()
            throw error
        }
    }
}

/// Runs `body`, expecting a ``PostgresError``, and returns it for closer inspection.
func expectPostgresError(
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> Void
) async -> PostgresError? {
    do {
        try await body()
        Issue.record("expected a PostgresError, but the call succeeded", sourceLocation: sourceLocation)
        return nil
    } catch let error as PostgresError {
        return error
    } catch {
        Issue.record("expected a PostgresError, got \(type(of: error)): \(error)", sourceLocation: sourceLocation)
        return nil
    }
}
