import Foundation
import SkaldPostgres
import Testing

/// Restarts a private cluster (not the shared test server, which other tests are using).
@Suite("Server restart")
struct ServerRestartTests {
    struct CommandFailed: Error, CustomStringConvertible {
        var description: String
    }

    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Runs a command and returns its standard output (standard error goes to the test log).
    ///
    /// Spawned directly with an empty signal mask: Swift's cooperative threads block signals
    /// and a child inherits the mask, which would leave pg_ctl's server deaf to shutdown
    /// requests. Runs on a thread of its own because it blocks until the command exits.
    static func run(_ executable: String, _ arguments: [String]) async throws -> String {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<String, any Error>) in
            let thread = Thread {
                continuation.resume(with: Result { try spawn(executable, arguments) })
            }
            thread.start()
        }
    }

    private static func spawn(_ executable: String, _ arguments: [String]) throws -> String {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw CommandFailed(description: "pipe failed: errno \(errno)") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_addclose(&actions, fds[0])
        posix_spawn_file_actions_addclose(&actions, fds[1])
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        close(fds[1])
        defer { close(fds[0]) }
        guard spawned == 0 else { throw CommandFailed(description: "cannot run \(executable): error \(spawned)") }

        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(fds[0], &buffer, buffer.count)
            if count > 0 {
                output.append(contentsOf: buffer[0..<count])
            } else if count == 0 || errno != EINTR {
                break
            }
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        let text = String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        // WIFEXITED && WEXITSTATUS == 0
        guard status & 0x7f == 0, (status >> 8) & 0xff == 0 else {
            throw CommandFailed(description: "\(executable) \(arguments) failed with wait status \(status): \(text)")
        }
        return text
    }

    static func pgCtl() throws -> String {
        if let path = ProcessInfo.processInfo.environment["SKALD_TEST_PG_CTL"], !path.isEmpty { return path }
        let root = "/usr/lib/postgresql"
        let versions = try FileManager.default.contentsOfDirectory(atPath: root).compactMap(Int.init).sorted()
        return "\(root)/\(try #require(versions.last))/bin/pg_ctl"
    }

    @Test func poolReconnectsAfterTheServerRestarts() async throws {
        _ = try TestDatabase.url()  // the suite needs the test environment like every other
        let script = Self.repositoryRoot.appendingPathComponent("scripts/postgres.sh").path
        let name = TestDatabase.uniqueName("restart")
        let url = try await Self.run(script, ["start", name])
        do {
            let pool = PostgresPool(url: url, maximumConnections: 2)
            async let a = pool.withConnection { try await $0.query("SELECT pg_sleep(0.05)").count }
            async let b = pool.withConnection { try await $0.query("SELECT pg_sleep(0.05)").count }
            _ = try await (a, b)
            #expect(await pool.statistics.idle == 2)

            let dataDirectory = try await Self.run(script, ["datadir", name])
            let restart = ["-D", dataDirectory, "-m", "fast", "-w", "-t", "60", "restart"]
            if getuid() == 0 {
                _ = try await Self.run("/usr/sbin/runuser", ["-u", "postgres", "--", try Self.pgCtl()] + restart + ["-l", dataDirectory + "/../server.log"])
            } else {
                _ = try await Self.run(try Self.pgCtl(), restart + ["-l", dataDirectory + "/../server.log"])
            }

            // Both idle connections died with the old server; the pool notices and reconnects.
            for value in 1...3 {
                let answer = try await pool.withConnection { try await $0.query("SELECT \(value)::int8").first?.decode(Int.self, at: 0) }
                #expect(answer == value)
            }
            await pool.close()
        } catch {
            _ = try? await Self.run(script, ["stop", name])
            throw error
        }
        _ = try await Self.run(script, ["stop", name])
    }
}
