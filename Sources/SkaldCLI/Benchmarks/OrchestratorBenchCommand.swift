import ArgumentParser
import Foundation
import Logging
import Skald
import SkaldExamples
import SkaldKafka
import SkaldPostgres
import SkaldRuntime

/// `skald bench orchestrator`: PlaceOrder sagas through the whole orchestrator — Kafka
/// mock, message pump, Postgres with durable commits, outbox relay — with participants
/// that answer at once, in this process.
///
/// It reports saga transitions per second (each start or reply applied to a saga is one
/// transition) and, with `--in-flight N`, the resident memory of a separate `skald serve`
/// process holding N sagas that wait for replies which never come.
struct OrchestratorBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "orchestrator",
        abstract: "Saga transitions per second through the orchestrator, and its memory with many sagas in flight."
    )

    @OptionGroup var postgres: PostgresOptions

    @Option(help: "PlaceOrder sagas to run to the end.")
    var sagas: Int = 20_000

    @Option(help: "Partitions of every topic.")
    var partitions: Int = 16

    @Option(help: "Messages per pump transaction.")
    var batchSize: Int = 500

    @Option(help: "Postgres connections of the orchestrator.")
    var poolSize: Int = 4

    @Option(help: "Pump batches in progress at once.")
    var workers: Int = 2

    @Option(name: .customLong("window"), help: "Sagas in flight at most (0: all at once).")
    var inFlightWindow: Int = 5_000

    @Option(help: "Seconds of the pgbench ceiling run after the orchestrator's (0: none).")
    var pgbenchSeconds: Int = 15

    @Option(help: "Instead of throughput: start this many sagas in a `skald serve` process with silent participants and report its memory.")
    var inFlight: Int?

    @Option(help: "The folder of NNNN_name.sql migration files.")
    var migrations: String = "schemas/postgres"

    func validate() throws {
        guard sagas > 0, partitions > 0, batchSize > 0, poolSize > 0 else {
            throw ValidationError("--sagas, --partitions, --batch-size and --pool-size must be positive")
        }
        if let inFlight, inFlight <= 0 { throw ValidationError("--in-flight must be positive") }
    }

    func run() async throws {
        let baseURL = try postgres.requiredURL()
        let url = try await BenchStore.fresh(baseURL: baseURL, migrations: migrations)
        let cluster = try MockCluster(brokers: 1)
        defer { cluster.shutdown() }
        for topic in InstantParticipants.topics + ["orders.events", "skald.replies", "skald.dead-letter"] {
            try cluster.createTopic(topic, partitions: partitions)
        }
        var kafka = KafkaConfiguration(bootstrapServers: cluster.bootstrapServers)
        kafka.sessionTimeout = .seconds(6)
        kafka.fetchWaitMax = .milliseconds(5)
        kafka.linger = .milliseconds(5)
        var quiet = Logger(label: "skald.bench")
        quiet.logLevel = .error

        if let inFlight {
            try await measureMemory(inFlight: inFlight, url: url, kafka: kafka)
            await BenchStore.drop(url, baseURL: baseURL)
            return
        }

        var registry = SagaRegistry()
        try registry.register(placeOrder)
        var configuration = OrchestratorConfiguration(kafka: kafka, postgresURL: url)
        configuration.pumpBatchSize = batchSize
        configuration.poolSize = poolSize
        configuration.pumpWorkers = workers
        let orchestrator = try Orchestrator(registry: registry, configuration: configuration, logger: quiet)
        let participants = InstantParticipants()
        let running = Task { try await orchestrator.run() }
        let participating = Task { try await participants.run(kafka: kafka, group: "bench-participants", logger: quiet) }
        defer {
            running.cancel()
            participating.cancel()
        }
        // Let both consumer groups form before the clock starts.
        try await Task.sleep(for: .seconds(4))

        print("skald bench orchestrator: \(sagas) PlaceOrder sagas, \(partitions) partitions, batch \(batchSize), pool \(poolSize), workers \(workers), window \(inFlightWindow)")
        await BenchStore.checkpoint(baseURL)
        let backend = try await BenchStore.count(url, "SELECT pg_backend_pid()::bigint")
        let postmaster = CPUTime.parent(of: Int32(backend)) ?? 0
        let cpuBefore = CPUTime.now(postmaster: postmaster)
        let clock = ContinuousClock()
        let started = clock.now
        // Sagas start as others finish, at most `window` in flight: a backlog deeper than the
        // step timeouts (10 s) would measure timeouts and retries, not the orchestrator.
        let window = inFlightWindow > 0 ? inFlightWindow : sagas
        var published = 0
        var lastPrint = clock.now
        let countFinished: PostgresQuery = "SELECT count(*)::bigint FROM sagas WHERE status IN ('completed', 'compensated')"
        while true {
            // Progress from the participants' counter: counting sagas in Postgres every few
            // milliseconds would take Postgres time from the orchestrator being measured.
            let done = participants.ordersAtLastStep
            if done >= sagas {
                // Every saga got its last reply; the end is when the orchestrator applied them all.
                while try await BenchStore.count(url, countFinished) < sagas {
                    try await Task.sleep(for: .milliseconds(10))
                }
                break
            }
            if published < sagas, published - done <= window - min(window, 1_000) {
                let next = min(sagas, done + window)
                try await OrderEvents.publish(published..<next, kafka: kafka, logger: quiet)
                published = next
            }
            if clock.now - lastPrint > .seconds(2) {
                lastPrint = clock.now
                print("  \(done) of \(sagas) sagas finished")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        let elapsed = clock.now - started
        let cpu = CPUTime.now(postmaster: postmaster) - cpuBefore
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let transitions = try await BenchStore.count(url, "SELECT count(*)::bigint FROM inbox")
        let events = try await BenchStore.count(url, "SELECT count(*)::bigint FROM saga_events")
        print(String(format: "  %.1f s: %.0f sagas/s, %.0f transitions/s, %.0f events/s", seconds,
                     Double(sagas) / seconds, Double(transitions) / seconds, Double(events) / seconds))
        print("  transitions: \(transitions) (starts and replies applied), events: \(events)")
        print(String(format: "  CPU per transition: %.0f µs in this process (pump, relay, Kafka mock, participants), %.0f µs in Postgres",
                     cpu.process / Double(transitions) * 1e6, cpu.postgres / Double(transitions) * 1e6))
        print("  peak resident memory of this process (mock cluster and participants included): \(ProcessMemory.peakMegabytes()) MB")
        running.cancel()
        participating.cancel()
        _ = await running.result
        _ = await participating.result

        guard pgbenchSeconds > 0 else {
            await BenchStore.drop(url, baseURL: baseURL)
            return
        }
        let ours = Double(transitions) / seconds
        await BenchStore.checkpoint(baseURL)
        let ceiling = try await PGBenchCeiling.run(url: url, batch: batchSize, clients: workers, seconds: pgbenchSeconds)
        await BenchStore.drop(url, baseURL: baseURL)
        print(String(format: "  pgbench ceiling (the same statements per batch of %d, %d clients, %d s): %.0f transitions/s",
                     batchSize, workers, pgbenchSeconds, ceiling))
        print(String(format: "result: %.0f transitions/s, %.1f %% of the pgbench ceiling", ours, ours / ceiling * 100))
    }

    /// Starts `inFlight` sagas in a `skald serve` child whose participants never answer.
    private func measureMemory(inFlight: Int, url: String, kafka: KafkaConfiguration) async throws {
        var quiet = Logger(label: "skald.bench")
        quiet.logLevel = .error
        let child = Process()
        child.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        child.arguments = ["serve", "--postgres", url, "--kafka", kafka.bootstrapServers ?? "", "--log-level", "error"]
        child.environment = ProcessInfo.processInfo.environment.merging([
            "SKALD_KAFKA_PROPERTIES": "session.timeout.ms=6000,fetch.wait.max.ms=5,linger.ms=5",
            "SKALD_PUMP_BATCH_SIZE": String(batchSize),
        ]) { $1 }
        try child.run()
        defer {
            if child.isRunning {
                child.terminate()
                child.waitUntilExit()
            }
        }
        print("skald bench orchestrator --in-flight \(inFlight): `skald serve` pid \(child.processIdentifier), participants silent")
        try await Task.sleep(for: .seconds(4))
        let idle = ProcessMemory.residentMegabytes(pid: child.processIdentifier)
        try await OrderEvents.publish(0..<inFlight, kafka: kafka, logger: quiet)
        while try await BenchStore.count(url, "SELECT count(*)::bigint FROM sagas") < inFlight {
            try await Task.sleep(for: .milliseconds(500))
        }
        // Let the relay publish the first commands so outbox and producer buffers are in the picture.
        try await Task.sleep(for: .seconds(3))
        let loaded = ProcessMemory.residentMegabytes(pid: child.processIdentifier)
        let peak = ProcessMemory.peakMegabytes(pid: child.processIdentifier)
        print("  resident memory of skald serve: \(idle) MB idle, \(loaded) MB with \(inFlight) sagas in flight (peak \(peak) MB)")
    }
}

/// A fresh, migrated schema for one benchmark run.
enum BenchStore {
    static func fresh(baseURL: String, migrations: String) async throws -> String {
        let schema = "bench_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(10).lowercased()
        let connection = try await PostgresConnection.connect(to: baseURL)
        try await connection.query("CREATE SCHEMA \(identifier: schema)")
        await connection.close()
        let separator = baseURL.contains("?") ? "&" : "?"
        let url = "\(baseURL)\(separator)options=-c%20search_path%3D\(schema)"
        _ = try await PostgresMigrator(directory: URL(fileURLWithPath: migrations)).migrate(url: url)
        return url
    }

    /// Drops the schema `fresh` made for `url`: a run leaves about a million rows behind,
    /// and autovacuum working through an earlier run's tables skewed the next run's numbers.
    static func drop(_ url: String, baseURL: String) async {
        guard let schema = url.components(separatedBy: "search_path%3D").last, schema.hasPrefix("bench_"),
            let connection = try? await PostgresConnection.connect(to: baseURL)
        else { return }
        _ = try? await connection.query("DROP SCHEMA \(identifier: schema) CASCADE")
        await connection.close()
    }

    /// Starts a measurement right after a checkpoint. A run writes about 430 MB of WAL; with
    /// `max_wal_size = 2GB` a checkpoint comes every two or three runs, and the run it falls in
    /// writes a full page image for every page it touches first and shares the disk with the
    /// checkpoint's writes: such runs measured a quarter of the others' speed. Needs a
    /// superuser (as on the throwaway clusters); otherwise nothing happens.
    static func checkpoint(_ baseURL: String) async {
        guard let connection = try? await PostgresConnection.connect(to: baseURL) else { return }
        _ = try? await connection.query("CHECKPOINT")
        await connection.close()
    }

    static func count(_ url: String, _ query: PostgresQuery) async throws -> Int {
        let connection = try await PostgresConnection.connect(to: url)
        defer { Task { await connection.close() } }
        return try await connection.query(query).first?.decode(Int.self, at: 0) ?? 0
    }
}

/// `OrderCreated` domain events, each of which starts a PlaceOrder saga.
enum OrderEvents {
    static func publish(_ orders: Range<Int>, kafka: KafkaConfiguration, logger: Logger) async throws {
        let producer = try KafkaProducer(configuration: kafka, logger: logger)
        let encoder = JSONEncoder()
        for first in stride(from: orders.lowerBound, to: orders.upperBound, by: 5_000) {
            var messages: [KafkaOutgoingMessage] = []
            for number in first..<min(first + 5_000, orders.upperBound) {
                let event = OrderCreatedEvent(
                    orderId: "order-\(number)", customerId: "customer-\(number % 500)",
                    lines: [OrderLine(sku: "sku-\(number % 7)", quantity: 1)], amountCents: 500 + number % 1_000)
                let envelope = MessageEnvelope(
                    id: "order-created-\(number)", source: "bench", type: OrderCreatedEvent.messageType, time: Date())
                messages.append(
                    KafkaOutgoingMessage(
                        topic: "orders.events", key: Array(event.orderId.utf8), value: Array(try encoder.encode(event)),
                        headers: envelope.headers().map { KafkaHeader(name: $0.name, value: $0.value) }))
            }
            for result in try await producer.send(messages) { _ = try result.get() }
        }
        await producer.shutdown()
    }
}

/// Resident memory from /proc.
enum ProcessMemory {
    static func residentMegabytes(pid: Int32? = nil) -> Int { field("VmRSS", pid: pid) }
    static func peakMegabytes(pid: Int32? = nil) -> Int { field("VmHWM", pid: pid) }

    private static func field(_ name: String, pid: Int32?) -> Int {
        let path = "/proc/\(pid.map(String.init) ?? "self")/status"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return -1 }
        for line in text.split(separator: "\n") where line.hasPrefix(name + ":") {
            let kilobytes = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
            return kilobytes / 1024
        }
        return -1
    }
}

/// The pgbench ceiling: the statements one pump transaction and one relay round issue, with
/// equivalent rows generated in SQL, so the orchestrator's rate can be put against what
/// Postgres does with the same writes and nothing else.
enum PGBenchCeiling {
    /// One pgbench transaction is one pump batch of `batch` transitions in steady state
    /// (instances cached, so no log is read): lock the sagas, record the inbox, read no logs,
    /// append two events per transition, upsert the snapshots, write five commands per six
    /// transitions to the outbox, replace each saga's step timer, correlate one saga in
    /// six, notify, commit; then the relay's round: read that many outbox rows, delete them.
    /// Each client works on its own sagas (`pgb-<client>-<n>`), `slots` batches of them.
    static func script(batch: Int, slots: Int) -> String {
        // Colons inside JSON strings are written `\u003a`: pgbench would read `:name` as a variable.
        let state = #"{"lines": [{"sku": "sku-4", "quantity": 1}], "orderId": "order-4", "paymentId": "p-order-4", "customerId": "customer-4", "amountCents": 504, "reservationId": "r-order-4"}"#
        let steps = #"[{"kind": "compensatable", "name": "create-order", "phase": "succeeded", "attempt": 1, "compensation": "none"}, {"kind": "compensatable", "name": "reserve-inventory", "phase": "succeeded", "attempt": 1, "compensation": "none"}, {"kind": "compensatable", "name": "process-payment", "phase": "running", "attempt": 1, "compensation": "none"}, {"kind": "pivot", "name": "confirm-order", "phase": "pending", "attempt": 0, "compensation": "none"}, {"kind": "retriable", "name": "notify-customer", "phase": "pending", "attempt": 0, "compensation": "none"}]"#
        let succeeded = #"{"step": "reserve-inventory", "time": "2026-11-25T18\u003a46\u003a34.439577Z", "type": "step.succeeded", "reply": "com.example.inventory.InventoryReserved", "schema": 1, "attempt": 1, "payload": {"orderId": "order-4", "reservationId": "r-order-4"}, "messageId": "reply\u003aPlaceOrder-order-4/reserve-inventory/action/1"}"#
        let sent = #"{"step": "process-payment", "time": "2026-11-25T18\u003a46\u003a34.439577Z", "type": "step.command-sent", "schema": 1, "attempt": 1, "commandId": "PlaceOrder-order-4/process-payment/action/1"}"#
        let headers = #"[["ce_specversion", "1.0"], ["ce_id", "PlaceOrder-order-4/process-payment/action/1"], ["ce_source", "skald/PlaceOrder"], ["ce_type", "com.example.payments.ProcessPayment"], ["ce_time", "2026-11-25T18\u003a46\u003a34.439Z"], ["content-type", "application/json"], ["ce_sagaid", "PlaceOrder-order-4"], ["ce_sagatype", "PlaceOrder"], ["ce_sagastep", "process-payment"]]"#
        let payload = #"{"orderId": "order-4", "amountCents": 504, "customerId": "customer-4"}"#
        let saga = "'pgb-' || :client_id || '-' || (:base::int + g)"
        let lanes = "ANY(('{' || (:client_id::int % 16) || '}')::smallint[])"
        let lines = [
            "\\set n \(batch)",
            "\\set nout \(batch) * 5 / 6",
            "\\set nstart \(batch) / 6",
            "\\set slot random(0, \(max(1, slots) - 1))",
            "\\set seq :seq + 2",
            "\\set base :slot * :n",
            "\\startpipeline",
            "BEGIN ISOLATION LEVEL READ COMMITTED;",
            "SELECT saga_id, saga_type, definition_version, status, last_sequence FROM sagas WHERE saga_id IN (SELECT \(saga) FROM generate_series(1, :n::int) g) ORDER BY saga_id FOR UPDATE;",
            "INSERT INTO inbox (message_id, source) SELECT 'pgb-' || :client_id || '-' || :seq || '-' || g, 'skald.replies/0/' || g FROM generate_series(1, :n::int) g ON CONFLICT (message_id) DO NOTHING RETURNING message_id;",
            "SELECT e.saga_id, e.sequence, e.event_type, e.recorded_at, e.event::text FROM sagas s JOIN saga_events e ON e.saga_id = s.saga_id WHERE s.saga_id IN (SELECT \(saga) FROM generate_series(1, :n::int) g) AND s.last_sequence IS DISTINCT FROM s.last_sequence ORDER BY e.saga_id, e.sequence;",
            "\\endpipeline",
            "\\startpipeline",
            "INSERT INTO saga_events (saga_id, sequence, event_type, recorded_at, event) SELECT \(saga), :seq::int + k, CASE k WHEN 0 THEN 'step.succeeded' ELSE 'step.command-sent' END, now(), CASE k WHEN 0 THEN '\(succeeded)'::json ELSE '\(sent)'::json END FROM generate_series(1, :n::int) g, generate_series(0, 1) k;",
            "INSERT INTO sagas (saga_id, saga_type, definition_version, status, current_step, state, steps, business_key, stuck_reason, last_sequence, created_at, updated_at) SELECT \(saga), 'PlaceOrder', 1, 'running', 'process-payment', '\(state)'::json, '\(steps)'::json, 'order-' || g, NULL, :seq::int + 1, now(), now() FROM generate_series(1, :n::int) g ON CONFLICT (saga_id) DO UPDATE SET status = EXCLUDED.status, current_step = EXCLUDED.current_step, state = EXCLUDED.state, steps = EXCLUDED.steps, business_key = EXCLUDED.business_key, stuck_reason = EXCLUDED.stuck_reason, last_sequence = EXCLUDED.last_sequence, updated_at = EXCLUDED.updated_at;",
            "INSERT INTO outbox (lane, message_id, saga_id, topic, message_key, headers, payload) SELECT :client_id::int % 16, 'pgb-' || :client_id || '-' || :seq || '-' || g, \(saga), 'payments.commands', \(saga), '\(headers)'::json, '\(payload)'::json FROM generate_series(1, :nout::int) g ON CONFLICT (message_id) DO NOTHING;",
            "DELETE FROM timers WHERE timer_id IN (SELECT 'pgb-' || :client_id || '-' || (:seq::int - 2) || '-' || g FROM generate_series(1, :n::int) g);",
            "INSERT INTO timers (timer_id, saga_id, saga_type, kind, step, attempt, due_at) SELECT 'pgb-' || :client_id || '-' || :seq || '-' || g, \(saga), 'PlaceOrder', 'step-timeout', 'process-payment', 1, now() + interval '30 seconds' FROM generate_series(1, :n::int) g ON CONFLICT (timer_id) DO NOTHING;",
            "INSERT INTO correlations (saga_type, correlation_key, saga_id) SELECT 'PlaceOrder', 'pgb-' || :client_id || '-' || :seq || '-' || g, \(saga) FROM generate_series(1, :nstart::int) g ON CONFLICT DO NOTHING;",
            "SELECT pg_notify('skald_outbox_pgbench', '');",
            "COMMIT;",
            "\\endpipeline",
            "SELECT id, topic, message_key, headers::text, payload::text FROM outbox WHERE lane = \(lanes) ORDER BY id LIMIT :nout::int;",
            "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE lane = \(lanes) ORDER BY id LIMIT :nout::int);",
        ]
        return lines.joined(separator: "\n") + "\n"
    }

    /// Runs the script with `clients` clients for `seconds`; returns transitions per second.
    static func run(url: String, batch: Int, clients: Int, seconds: Int) async throws -> Double {
        let executable = try findPGBench()
        let script = script(batch: batch, slots: 40)
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Double, any Error>) in
            // A child inherits its spawning thread's signal mask, and Swift's cooperative threads
            // block signals: pgbench would never get the SIGALRM that ends its `-T` run.
            let thread = Thread {
                var none = sigset_t()
                sigemptyset(&none)
                pthread_sigmask(SIG_SETMASK, &none, nil)
                continuation.resume(with: Result {
                    try spawn(executable: executable, url: url, script: script, clients: clients, seconds: seconds) * Double(batch)
                })
            }
            thread.name = "skald-bench-pgbench"
            thread.start()
        }
    }

    private static func spawn(executable: String, url: String, script: String, clients: Int, seconds: Int) throws -> Double {
        let scriptURL = FileManager.default.temporaryDirectory
            .appendingPathComponent("skald-bench-orchestrator-\(ProcessInfo.processInfo.processIdentifier).sql")
        try script.write(to: scriptURL, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: scriptURL) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [
            "-n", "-M", "prepared", "-c", String(clients), "-j", String(clients), "-T", String(seconds),
            "-D", "seq=0", "-f", scriptURL.path, url,
        ]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0,
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("tps = ") }),
            let tps = Double(line.dropFirst("tps = ".count).prefix { $0 != " " })
        else {
            throw ValidationError("pgbench failed (exit \(process.terminationStatus)):\n\(text)")
        }
        return tps
    }

    private static func findPGBench() throws -> String {
        let root = "/usr/lib/postgresql"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        for version in versions.compactMap(Int.init).sorted(by: >) {
            let path = "\(root)/\(version)/bin/pgbench"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw ValidationError("pgbench not found under \(root)/*/bin; install postgresql")
    }
}
