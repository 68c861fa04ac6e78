public import Foundation
public import SkaldPostgres
import Testing

/// The Postgres of a test run: the shared throwaway server `scripts/test.sh` starts, fresh
/// schemas in it, and private clusters for tests that restart the server.
public enum TestPostgres {
    /// The repository root, for `scripts/` and `schemas/`.
    public static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `SKALD_TEST_POSTGRES_URL` is missing.
    public struct MissingServer: Error, CustomStringConvertible {
        /// How to run the tests instead.
        public var description: String {
            "SKALD_TEST_POSTGRES_URL is not set: run the tests with scripts/test.sh (make test), or start a cluster "
                + "with `scripts/postgres.sh start dev` and export SKALD_TEST_POSTGRES_URL=<the printed URL>"
        }
    }

    /// The shared server's URL; fails the test (never skips it) when the variable is missing.
    public static func url() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["SKALD_TEST_POSTGRES_URL"], !url.isEmpty else {
            Issue.record(Comment(rawValue: MissingServer().description))
            throw MissingServer()
        }
        return url
    }

    /// A new schema in `baseURL`'s database; returns a URL whose sessions use it, and its name.
    public static func freshSchema(_ prefix: String, in baseURL: String? = nil) async throws -> (url: String, schema: String) {
        let base = try baseURL ?? url()
        let schema = "\(prefix)_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
        let connection = try await PostgresConnection.connect(to: base)
        try await connection.query("CREATE SCHEMA \(identifier: schema)")
        await connection.close()
        let separator = base.contains("?") ? "&" : "?"
        return ("\(base)\(separator)options=-c%20search_path%3D\(schema)", schema)
    }

    /// A fresh schema with Skald's migrations applied.
    public static func freshStore(_ prefix: String = "store", in baseURL: String? = nil) async throws -> String {
        let url = try await freshSchema(prefix, in: baseURL).url
        _ = try await PostgresMigrator(directory: repositoryRoot.appendingPathComponent("schemas/postgres")).migrate(url: url)
        return url
    }

    /// One number from a query such as `SELECT count(*)::bigint …`.
    public static func count(_ url: String, _ query: PostgresQuery) async throws -> Int {
        let connection = try await PostgresConnection.connect(to: url)
        let value = try await connection.query(query).first?.decode(Int.self, at: 0) ?? 0
        await connection.close()
        return value
    }

    /// One column of strings.
    public static func strings(_ url: String, _ query: PostgresQuery) async throws -> [String] {
        let connection = try await PostgresConnection.connect(to: url)
        let values = try await connection.query(query).decode(String.self)
        await connection.close()
        return values
    }

    /// A cluster of the test's own (started by `scripts/postgres.sh`), which it may restart.
    public struct PrivateCluster: Sendable {
        /// Its name for `scripts/postgres.sh`.
        public let name: String
        /// Its URL.
        public let url: String

        private static var script: String { repositoryRoot.appendingPathComponent("scripts/postgres.sh").path }

        /// Starts a new cluster; `hugePages: false` sets `SKALD_POSTGRES_HUGE_PAGES=0` for it.
        public static func start(_ prefix: String, hugePages: Bool = true) async throws -> PrivateCluster {
            let name = "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
            let url =
                hugePages
                ? try await CommandRunner.run(script, ["start", name])
                : try await CommandRunner.run("/usr/bin/env", ["SKALD_POSTGRES_HUGE_PAGES=0", script, "start", name])
            return PrivateCluster(name: name, url: url)
        }

        /// The process id of the cluster's postmaster, from `postmaster.pid`.
        public func postmasterProcessID() async throws -> Int32 {
            let dataDirectory = try await CommandRunner.run(Self.script, ["datadir", name])
            let contents = try String(contentsOfFile: dataDirectory + "/postmaster.pid", encoding: .utf8)
            guard let first = contents.split(separator: "\n").first, let pid = Int32(first) else {
                throw CommandRunner.Failed(description: "no process id in \(dataDirectory)/postmaster.pid")
            }
            return pid
        }

        /// `scripts/postgres.sh restart` (a fast stop, the old server's exit awaited, and a start):
        /// every connection is cut, the server is back when it returns. Through the script, which
        /// holds the huge-page lock meanwhile, so a cluster starting in parallel does not take this
        /// one's pages.
        public func restart() async throws {
            _ = try await CommandRunner.run(Self.script, ["restart", name])
        }

        /// `scripts/postgres.sh warm`: `gigabytes` of WAL files ready for reuse, shared buffers touched.
        public func warm(gigabytes: Int) async throws {
            _ = try await CommandRunner.run(Self.script, ["warm", name, String(gigabytes)])
        }

        /// Stops the cluster and removes its data.
        public func stop() async {
            _ = try? await CommandRunner.run(Self.script, ["stop", name])
        }
    }
}
