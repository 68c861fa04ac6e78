import ArgumentParser
import Foundation
import SkaldPostgres

/// `skald bench postgres`: the saga-step transaction through SkaldPostgres's pipeline mode,
/// against `pgbench` running the same statements in the same run.
///
/// A saga step locks its saga row (`SELECT … FOR UPDATE`), updates it and inserts an event
/// row and an outbox row. A transaction carries `--steps-per-transaction` steps, all sent
/// in one pipeline with BEGIN and COMMIT, with durable commits. Each client works on its own
/// range of saga rows, so clients never wait on each other's locks and neither side deadlocks.
struct PostgresBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "postgres",
        abstract: "Saga-step transactions per second through pipeline mode, compared with pgbench."
    )

    @Option(help: "Postgres URL (default: $SKALD_POSTGRES_URL).")
    var postgres: String?

    @Option(help: "Concurrent connections (and pgbench clients and threads).")
    var connections: Int = 16

    @Option(help: "Saga steps per transaction; each step is 4 statements.")
    var stepsPerTransaction: Int = 20

    @Option(help: "Seconds each side runs.")
    var seconds: Int = 10

    @Option(help: "Saga rows per connection.")
    var sagasPerConnection: Int = 1000

    @Option(help: "Rounds; each runs SkaldPostgres then pgbench, and the ratio uses the medians.")
    var rounds: Int = 1

    @Option(help: "The pgbench executable (default: the newest /usr/lib/postgresql/*/bin/pgbench).")
    var pgbench: String?

    /// The fixed payload every event and outbox row carries (about a small JSON event's size).
    static let payload = #"{"type":"ReserveInventory","sku":"SKU-1234","quantity":2,"note":"benchmark payload"}"#

    func validate() throws {
        guard connections > 0, stepsPerTransaction > 0, seconds > 0, sagasPerConnection > 0, rounds > 0 else {
            throw ValidationError("--connections, --steps-per-transaction, --seconds, --sagas-per-connection and --rounds must be positive")
        }
    }

    func run() async throws {
        guard let url = postgres ?? ProcessInfo.processInfo.environment["SKALD_POSTGRES_URL"], !url.isEmpty else {
            throw ValidationError("give --postgres URL or set SKALD_POSTGRES_URL (e.g. from `scripts/postgres.sh start bench`)")
        }
        let pgbenchPath = try pgbench ?? PGBench.find()
        print("skald bench postgres: \(connections) connections, \(stepsPerTransaction) steps/transaction, \(seconds) s each side")

        var ourRates: [Double] = []
        var theirRates: [Double] = []
        for round in 1...rounds {
            if rounds > 1 { print("round \(round)") }
            try await resetTables(url: url)
            let ours = try await runSkald(url: url)
            let recorded = try await countRows(url: url)
            let expected = ours.transactions * stepsPerTransaction
            guard recorded == expected else {
                throw ValidationError("SkaldPostgres committed \(ours.transactions) transactions but bench_saga_events has \(recorded) rows, not \(expected)")
            }
            print(String(format: "  SkaldPostgres: %9.0f steps/s  (%.0f transactions/s; %d event rows verified)", ours.stepsPerSecond, ours.stepsPerSecond / Double(stepsPerTransaction), recorded))
            ourRates.append(ours.stepsPerSecond)

            try await resetTables(url: url)
            let theirs = try await PGBench.run(
                executable: pgbenchPath, url: url, script: pgbenchScript(), clients: connections, seconds: seconds
            ).transactionsPerSecond * Double(stepsPerTransaction)
            print(String(format: "  pgbench:       %9.0f steps/s  (%.0f transactions/s)", theirs, theirs / Double(stepsPerTransaction)))
            theirRates.append(theirs)
        }
        let ours = Self.median(ourRates)
        let theirs = Self.median(theirRates)
        print(String(format: "result: SkaldPostgres %.0f steps/s, pgbench %.0f steps/s (medians of %d), ratio %.1f %% of pgbench", ours, theirs, rounds, ours / theirs * 100))
    }

    private static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    private func countRows(url: String) async throws -> Int {
        let connection = try await PostgresConnection.connect(to: url)
        let count = try await connection.query("SELECT count(*) FROM bench_saga_events").first?.decode(Int.self, at: 0) ?? 0
        await connection.close()
        return count
    }

    // MARK: - Schema

    private func resetTables(url: String) async throws {
        let connection = try await PostgresConnection.connect(to: url)
        try await connection.executeScript("""
            DROP TABLE IF EXISTS bench_sagas, bench_saga_events, bench_outbox;
            CREATE TABLE bench_sagas (id int PRIMARY KEY, step int NOT NULL DEFAULT 0, updated_at timestamptz NOT NULL DEFAULT now());
            CREATE TABLE bench_saga_events (id bigserial PRIMARY KEY, saga_id int NOT NULL, step int NOT NULL, payload text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
            CREATE TABLE bench_outbox (id bigserial PRIMARY KEY, saga_id int NOT NULL, payload text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
            """)
        try await connection.query("INSERT INTO bench_sagas (id) SELECT generate_series(1, \(connections * sagasPerConnection))")
        try await connection.executeScript("VACUUM ANALYZE bench_sagas")
        // Start each side from the same WAL state; needs superuser, so it is best effort.
        _ = try? await connection.executeScript("CHECKPOINT")
        await connection.close()
    }

    /// The statements of step `step` (1-based), with `$1` the saga id; pgbench gets the same text with `:id<step>`.
    static func statements(step: Int) -> [String] {
        [
            "SELECT step FROM bench_sagas WHERE id = $1 FOR UPDATE",
            "UPDATE bench_sagas SET step = step + 1, updated_at = now() WHERE id = $1",
            "INSERT INTO bench_saga_events (saga_id, step, payload) VALUES ($1, \(step), '\(payload)')",
            "INSERT INTO bench_outbox (saga_id, payload) VALUES ($1, '\(payload)')",
        ]
    }

    // MARK: - SkaldPostgres

    private func runSkald(url: String) async throws -> (stepsPerSecond: Double, transactions: Int) {
        let workers = try await withThrowingTaskGroup(of: PostgresConnection.self) { group in
            for _ in 0..<connections {
                group.addTask { try await PostgresConnection.connect(to: url) }
            }
            var opened: [PostgresConnection] = []
            for try await connection in group { opened.append(connection) }
            return opened
        }
        let texts = (1...stepsPerTransaction).map(Self.statements(step:))
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start + .seconds(seconds)
        let sagas = sagasPerConnection
        let counts = try await withThrowingTaskGroup(of: Int.self) { group in
            for (client, connection) in workers.enumerated() {
                group.addTask {
                    var transactions = 0
                    var random = SplitMix64(seed: UInt64(client) &* 0x9E37_79B9_7F4A_7C15 &+ 1)
                    var queries: [PostgresQuery] = []
                    queries.reserveCapacity(texts.count * 4)
                    while clock.now < deadline {
                        queries.removeAll(keepingCapacity: true)
                        for stepTexts in texts {
                            let id = client * sagas + Int.random(in: 1...sagas, using: &random)
                            var bindings = PostgresBindings(capacity: 1)
                            bindings.append(id)
                            for text in stepTexts {
                                queries.append(PostgresQuery(sql: text, bindings: bindings))
                            }
                        }
                        try await connection.pipelineTransactionDiscardingRows(queries)
                        transactions += 1
                    }
                    return transactions
                }
            }
            var total: [Int] = []
            for try await count in group { total.append(count) }
            return total
        }
        let elapsed = start.duration(to: clock.now)
        let seconds = elapsed.inSeconds
        for connection in workers { await connection.close() }
        let transactions = counts.reduce(0, +)
        return (Double(transactions * stepsPerTransaction) / seconds, transactions)
    }

    // MARK: - pgbench

    /// The pgbench script: the same statements, one pipeline per transaction.
    private func pgbenchScript() -> String {
        var lines = ["\\set base :client_id * \(sagasPerConnection)"]
        for step in 1...stepsPerTransaction {
            lines.append("\\set id\(step) random(1, \(sagasPerConnection)) + :base")
        }
        lines.append("\\startpipeline")
        lines.append("BEGIN;")
        for step in 1...stepsPerTransaction {
            for text in Self.statements(step: step) {
                lines.append(text.replacingOccurrences(of: "$1", with: ":id\(step)") + ";")
            }
        }
        lines.append("COMMIT;")
        lines.append("\\endpipeline")
        return lines.joined(separator: "\n") + "\n"
    }
}

/// A tiny fast generator for picking saga rows; the system generator makes a syscall per number.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
