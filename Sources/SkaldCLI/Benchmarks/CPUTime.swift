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
    /// Of ``process``: the thread of librdkafka's mock cluster (`rdk:mock`), 0 without one.
    ///
    /// A real broker runs elsewhere, and the mock's CPU grows with what it keeps (each fetch
    /// that finds data walks the message sets of its partitions, docs/kafka.md), so the
    /// process's CPU without it is the part a deployment would see.
    var kafkaMock: Double = 0
    /// Of ``process``: librdkafka's own threads of every client in it (`rdk:main`,
    /// `rdk:broker…`): fetching, producing, protocol work.
    var kafkaClients: Double = 0
    /// Of ``process``: the Kafka clients' poll threads (`skald-poll-p`, `skald-poll-c`).
    var kafkaPoll: Double = 0
    /// Of ``process``: the Postgres connections' threads (`skald-postgres`): libpq's calls and
    /// everything isolated to a connection, which runs on its executor (the example services'
    /// command handlers among them), not only the client side of Postgres.
    var postgresConnections: Double = 0
    /// A reading's counted threads by thread id, so that a difference counts each thread from
    /// its own start: threads of clients that closed in between would otherwise take their
    /// CPU out of the difference.
    private var threads: [Int32: CountedThread] = [:]

    /// The threads counted apart from the rest of the process, by their system name.
    enum ThreadKind: Sendable {
        /// librdkafka's mock cluster, `rdk:mock`.
        case kafkaMock
        /// Any other librdkafka thread, `rdk:…`.
        case kafkaClient
        /// A Kafka client's poll thread, `skald-poll-p` or `skald-poll-c` (SkaldKafka names
        /// them): delivery reports, and consumed messages turned into `KafkaMessage`s.
        case kafkaPoll
        /// A Postgres connection's executor, `skald-postgres` (SkaldPostgres names them).
        case postgresConnection

        /// The kind of a thread named `name` (its `comm`), nil for threads not counted apart.
        init?(threadName name: String) {
            switch name {
            case "rdk:mock": self = .kafkaMock
            case "skald-poll-p", "skald-poll-c": self = .kafkaPoll
            case "skald-postgres": self = .postgresConnection
            case _ where name.hasPrefix("rdk:"): self = .kafkaClient
            default: return nil
            }
        }
    }

    /// One counted thread's CPU seconds so far.
    struct CountedThread {
        var kind: ThreadKind
        var seconds: Double
    }

    /// Readings, or their differences, with these values.
    init(
        process: Double, postgres: Double, kafkaMock: Double = 0, kafkaClients: Double = 0, kafkaPoll: Double = 0,
        postgresConnections: Double = 0
    ) {
        self.process = process
        self.postgres = postgres
        self.kafkaMock = kafkaMock
        self.kafkaClients = kafkaClients
        self.kafkaPoll = kafkaPoll
        self.postgresConnections = postgresConnections
    }

    /// A reading with these counted threads, by thread id (for tests of differences).
    init(process: Double, postgres: Double, threads: [Int32: CountedThread]) {
        self.init(process: process, postgres: postgres)
        for thread in threads.values { add(thread.seconds, to: thread.kind) }
        self.threads = threads
    }

    /// Now, for the cluster whose postmaster is `postmaster` (nil: a cluster that is not a
    /// local process, whose CPU this process cannot see; counted as 0).
    static func now(postmaster: Int32?) -> CPUTime {
        CPUTime(
            process: seconds(pid: nil, children: false), postgres: postmaster.map { clusterSeconds(postmaster: $0) } ?? 0,
            threads: countedThreadsNow())
    }

    /// What was spent from `rhs` to `lhs`. Counted threads count from `rhs`, or from their start
    /// when they began later; those that ended in between are not counted.
    static func - (lhs: CPUTime, rhs: CPUTime) -> CPUTime {
        guard !lhs.threads.isEmpty || !rhs.threads.isEmpty else {
            return CPUTime(
                process: lhs.process - rhs.process, postgres: lhs.postgres - rhs.postgres,
                kafkaMock: lhs.kafkaMock - rhs.kafkaMock, kafkaClients: lhs.kafkaClients - rhs.kafkaClients,
                kafkaPoll: lhs.kafkaPoll - rhs.kafkaPoll, postgresConnections: lhs.postgresConnections - rhs.postgresConnections)
        }
        var spent = CPUTime(process: lhs.process - rhs.process, postgres: lhs.postgres - rhs.postgres)
        for (id, thread) in lhs.threads {
            spent.add(max(0, thread.seconds - (rhs.threads[id]?.seconds ?? 0)), to: thread.kind)
        }
        return spent
    }

    private mutating func add(_ seconds: Double, to kind: ThreadKind) {
        switch kind {
        case .kafkaMock: kafkaMock += seconds
        case .kafkaClient: kafkaClients += seconds
        case .kafkaPoll: kafkaPoll += seconds
        case .postgresConnection: postgresConnections += seconds
        }
    }

    /// `"  of which Kafka …"`: the mock's, librdkafka's and the clients' poll threads' shares of
    /// the process's CPU, per `unit` (`count` of them), for the benchmarks' summaries; nil when
    /// no librdkafka thread ran.
    func kafkaLine(per count: Int, unit: String) -> String? {
        guard count > 0, kafkaMock + kafkaClients > 0 else { return nil }
        let mock = kafkaMock > 0 ? "\(Self.micros(kafkaMock, per: count)) the mock broker's thread, " : ""
        let poll = kafkaPoll > 0 ? ", \(Self.micros(kafkaPoll, per: count)) the clients' poll threads" : ""
        return "of which Kafka: \(mock)\(Self.micros(kafkaClients, per: count)) librdkafka's client threads\(poll), per \(unit)"
    }

    /// `"  of which on Postgres connections' threads …"`: their share of the process's CPU, per
    /// `unit` (`count` of them); nil when none ran.
    func postgresLine(per count: Int, unit: String) -> String? {
        guard count > 0, postgresConnections > 0 else { return nil }
        return "of which on Postgres connections' threads: \(Self.micros(postgresConnections, per: count)) "
            + "(libpq, and the work isolated to a connection), per \(unit)"
    }

    private static func micros(_ seconds: Double, per count: Int) -> String {
        String(format: "%.0f µs", seconds / Double(count) * 1e6)
    }

    /// CPU seconds of this process's counted threads now running, by thread id (``ThreadKind``).
    /// librdkafka's threads live as long as their client, a connection's as long as the
    /// connection; those closed before a later reading (the orchestrator benchmark's own order
    /// publisher, made anew for each refill) are left out of a difference.
    ///
    /// From the thread's `schedstat` (nanoseconds on a CPU), else its `stat` (clock ticks,
    /// 10 ms each: too coarse for a short window).
    private static func countedThreadsNow() -> [Int32: CountedThread] {
        var threads: [Int32: CountedThread] = [:]
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        for task in tasks {
            guard let id = Int32(task),
                let comm = try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8),
                let kind = ThreadKind(threadName: comm.trimmingCharacters(in: .whitespacesAndNewlines))
            else { continue }
            let seconds: Double
            if let schedstat = try? String(contentsOfFile: "/proc/self/task/\(task)/schedstat", encoding: .utf8),
                let nanoseconds = schedstat.split(separator: " ").first.flatMap({ Double($0) })
            {
                seconds = nanoseconds / 1e9
            } else if let fields = statFields(path: "/proc/self/task/\(task)/stat"), fields.count > 12 {
                seconds = ticksToSeconds(fields[11], fields[12])
            } else {
                continue
            }
            threads[id] = CountedThread(kind: kind, seconds: seconds)
        }
        return threads
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
        statFields(path: "/proc/\(pid.map(String.init) ?? "self")/stat")
    }

    /// The fields of a `stat` file (a process's or a thread's) after the command name.
    private static func statFields(path: String) -> [Substring]? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        return text[text.index(after: close)...].split(separator: " ")
    }
}
