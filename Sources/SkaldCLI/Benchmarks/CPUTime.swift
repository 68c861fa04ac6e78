import Foundation
import SkaldPostgres

/// CPU seconds spent by this process and by one Postgres cluster, read from `/proc`.
///
/// On a 2-core machine the orchestrator and Postgres share the CPU, so throughput alone
/// moves with whatever else runs; CPU time per transition does not, and it says which side
/// a change made cheaper.
struct CPUTime {
    /// This process: all threads (pump, relay, Kafka mock, participants).
    var process: Double
    /// The Postgres cluster: the postmaster, its live children and those it has reaped.
    var postgres: Double

    /// Now, for the cluster whose postmaster is `postmaster` (nil: a cluster that is not a
    /// local process, whose CPU this process cannot see; counted as 0).
    static func now(postmaster: Int32?) -> CPUTime {
        CPUTime(process: seconds(pid: nil, children: false), postgres: postmaster.map { clusterSeconds(postmaster: $0) } ?? 0)
    }

    static func - (lhs: CPUTime, rhs: CPUTime) -> CPUTime {
        CPUTime(process: lhs.process - rhs.process, postgres: lhs.postgres - rhs.postgres)
    }

    /// The postmaster of `url`'s cluster when it runs on this machine (its backend is a local process).
    ///
    /// The backend's parent is looked up while its connection is open: once the connection
    /// closes the backend exits, and a lookup that lost that race measured no Postgres CPU at all.
    static func localPostmaster(_ url: String) async -> Int32? {
        guard let connection = try? await PostgresConnection.connect(to: url) else { return nil }
        defer { Task { await connection.close() } }
        // A server in a container or on another host has a backend pid that means nothing
        // here (or names an unrelated local process): only a local `postgres` process counts.
        guard let backend = try? await connection.query("SELECT pg_backend_pid()").first?.decode(Int.self, at: 0),
            isPostgres(Int32(backend)), let parent = parent(of: Int32(backend)), isPostgres(parent)
        else { return nil }
        return parent
    }

    /// Whether `pid` is a local Postgres process (its `comm` is `postgres`).
    static func isPostgres(_ pid: Int32) -> Bool {
        guard let comm = try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8) else { return false }
        return comm.trimmingCharacters(in: .whitespacesAndNewlines) == "postgres"
    }

    /// The parent of a Postgres backend is its postmaster.
    static func parent(of pid: Int32) -> Int32? {
        guard let fields = statFields(pid: pid), fields.count > 1 else { return nil }
        return Int32(fields[1])
    }

    private static func clusterSeconds(postmaster: Int32) -> Double {
        var total = seconds(pid: postmaster, children: true)
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let pid = Int32(entry), pid != postmaster, let fields = statFields(pid: pid), fields.count > 14,
                Int32(fields[1]) == postmaster
            else { continue }
            total += ticksToSeconds(fields[11], fields[12])
        }
        return total
    }

    private static func seconds(pid: Int32?, children: Bool) -> Double {
        guard let fields = statFields(pid: pid), fields.count > 14 else { return 0 }
        return ticksToSeconds(fields[11], fields[12]) + (children ? ticksToSeconds(fields[13], fields[14]) : 0)
    }

    private static func ticksToSeconds(_ fields: Substring...) -> Double {
        let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
        return fields.reduce(0) { $0 + (Double($1) ?? 0) } / ticksPerSecond
    }

    /// The fields of `/proc/<pid>/stat` after the command name, starting with the state (field 3).
    private static func statFields(pid: Int32?) -> [Substring]? {
        let path = "/proc/\(pid.map(String.init) ?? "self")/stat"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        return text[text.index(after: close)...].split(separator: " ")
    }
}
