import Foundation

/// Runs a helper command (the project's scripts, pg_ctl) and returns its standard output.
public enum CommandRunner {
    /// A command that failed, with its output.
    public struct Failed: Error, CustomStringConvertible {
        /// What failed and what it said.
        public var description: String
    }

    /// Runs `executable` with `arguments` on a thread of its own and returns its trimmed output.
    ///
    /// The child is spawned with an empty signal mask: Swift's cooperative threads block
    /// signals and a child inherits the mask, which would leave a server started by
    /// pg_ctl deaf to its shutdown request.
    public static func run(_ executable: String, _ arguments: [String]) async throws -> String {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<String, any Error>) in
            let thread = Thread {
                continuation.resume(with: Result { try spawn(executable, arguments) })
            }
            thread.start()
        }
    }

    private static func spawn(_ executable: String, _ arguments: [String]) throws -> String {
        var fds: [Int32] = [-1, -1]
        // Close-on-exec: a process another thread spawns meanwhile (a Postgres server that
        // pg_ctl starts, a skald child) would otherwise inherit the write end, and this read
        // would wait for that process to end instead of for this command. (Swift's Glibc
        // module has no pipe2, so a spawn between these two calls could still inherit it.)
        let piped = pipe(&fds)
        if piped == 0 { for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) } }
        guard piped == 0 else { throw Failed(description: "pipe failed: errno \(errno)") }
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
        guard spawned == 0 else { throw Failed(description: "cannot run \(executable): error \(spawned)") }

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
            throw Failed(description: "\(executable) \(arguments) failed with wait status \(status): \(text)")
        }
        return text
    }
}
