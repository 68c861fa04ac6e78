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

    @Flag(help: "Print the pgbench ceiling's script (for a batch of --batch-size) and exit.")
    var printPgbenchScript = false

    @Option(help: "Instead of throughput: start this many sagas in a `skald serve` process with silent participants and report its memory.")
    var inFlight: Int?

    @Option(help: "The folder of NNNN_name.sql migration files.")
    var migrations: String = "schemas/postgres"

    func validate() throws {
        guard sagas > 0, partitions > 0, batchSize > 0, poolSize > 0 else {
            throw ValidationError("--sagas, --partitions, --batch-size and --pool-size must be positive")
        }
        if let inFlight, inFlight <= 0 { throw ValidationError("--in-flight must be positive") }
        if pgbenchSeconds > 0, batchSize < PGBenchCeiling.minimumBatch {
            throw ValidationError("the pgbench ceiling needs --batch-size \(PGBenchCeiling.minimumBatch) or more (one transition in six is a start); or pass --pgbench-seconds 0")
        }
    }

    func run() async throws {
        if printPgbenchScript {
            print("-- For a store whose saga documents are text (0010_saga_documents_text.sql applied, as on every new store).")
            print("-- Run first, once, in the orchestrator's schema: the rows the snapshot updates find.")
            print("-- " + PGBenchCeiling.seedQuery(batch: batchSize, clients: workers).split(separator: "\n").joined(separator: "\n-- "))
            print(PGBenchCeiling.script(batch: batchSize).text, terminator: "")
            return
        }
        let baseURL = try postgres.requiredURL()
        let url = try await BenchStore.fresh(baseURL: baseURL, migrations: migrations)
        let cluster = try MockCluster(brokers: 1)
        defer { cluster.shutdown() }
        for topic in InstantParticipants.topics + ["orders.events", "skald.replies", "skald.dead-letter"] {
            try cluster.createTopic(topic, partitions: partitions)
        }
        var settings = KafkaConfiguration(bootstrapServers: cluster.bootstrapServers)
        settings.sessionTimeout = .seconds(6)
        settings.fetchWaitMax = .milliseconds(5)
        try KafkaSettings.apply(to: &settings)
        let kafka = settings
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

        print("skald bench orchestrator: \(sagas) PlaceOrder sagas, \(partitions) partitions, batch \(batchSize), pool \(poolSize), workers \(workers), window \(inFlightWindow), \(ProcessAllocator.name)")
        await BenchStore.checkpoint(baseURL)
        let postmaster = await CPUTime.localPostmaster(url)
        let cpuBefore = CPUTime.now(postmaster: postmaster)
        let walBefore = try await BenchStore.count(url, WALPosition.query)
        let walFilesBefore = try? await BenchStore.count(url, WALPosition.filesQuery)
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
        let walBytes = try await BenchStore.count(url, WALPosition.query) - walBefore
        let walNote = WALPosition.newFilesNote(before: walFilesBefore, after: try? await BenchStore.count(url, WALPosition.filesQuery))
        let seconds = elapsed.inSeconds
        let transitions = try await BenchStore.count(url, "SELECT count(*)::bigint FROM inbox")
        let events = try await BenchStore.count(url, "SELECT count(*)::bigint FROM saga_events")
        print(String(format: "  %.1f s: %.0f sagas/s, %.0f transitions/s, %.0f events/s", seconds,
                     Double(sagas) / seconds, Double(transitions) / seconds, Double(events) / seconds))
        print("  transitions: \(transitions) (starts and replies applied), events: \(events)")
        let postgresCPU = postmaster == nil
            ? "Postgres's unknown (not a local process)"
            : String(format: "%.0f µs in Postgres", cpu.postgres / Double(transitions) * 1e6)
        print(String(format: "  CPU per transition: %.0f µs in this process (pump, relay, Kafka mock, participants), ",
                     cpu.process / Double(transitions) * 1e6) + postgresCPU)
        if let kafka = cpu.kafkaLine(per: transitions, unit: "transition") { print("    \(kafka)") }
        if let postgres = cpu.postgresLine(per: transitions, unit: "transition") { print("    \(postgres)") }
        print(String(format: "  WAL per transition: %.0f bytes", Double(walBytes) / Double(transitions)) + walNote)
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
        // The rows the ceiling's snapshot updates find are written before the checkpoint and the
        // CPU reading, like the orchestrator's own sagas before its measurement.
        try await PGBenchCeiling.seed(url: url, batch: batchSize, clients: workers)
        await BenchStore.checkpoint(baseURL)
        let ceilingCPUBefore = CPUTime.now(postmaster: postmaster)
        let ceiling = try await PGBenchCeiling.run(
            executable: try PGBench.find(), url: url, batch: batchSize, clients: workers, seconds: pgbenchSeconds,
            seeding: false)
        let ceilingCPU = CPUTime.now(postmaster: postmaster) - ceilingCPUBefore
        await BenchStore.drop(url, baseURL: baseURL)
        print(String(format: "  pgbench ceiling (the pump's and relay's statements, batches of %d, %d clients, %d s): %.0f transitions/s",
                     batchSize, workers, pgbenchSeconds, ceiling.transitionsPerSecond))
        print(String(format: "  (pgbench's own array-building queries took %.0f %% of its time and are taken out)",
                     ceiling.scaffoldingShare * 100))
        // Where the gap is: Postgres doing the same statements costs about what it costs under
        // pgbench, so what the ratio misses is mostly this process's own CPU on the same cores.
        if ceiling.transitions > 0, postmaster != nil {
            print(String(format: "  Postgres CPU per transition: %.0f µs in the orchestrator run, %.0f µs under pgbench (its scaffolding's share taken out)",
                         cpu.postgres / Double(transitions) * 1e6,
                         ceilingCPU.postgres * (1 - ceiling.scaffoldingShare) / Double(ceiling.transitions) * 1e6))
        }
        print(String(format: "result: %.0f transitions/s, %.1f %% of the pgbench ceiling", ours, ours / ceiling.transitionsPerSecond * 100))
    }

    /// Starts `inFlight` sagas in a `skald serve` child whose participants never answer.
    private func measureMemory(inFlight: Int, url: String, kafka: KafkaConfiguration) async throws {
        var quiet = Logger(label: "skald.bench")
        quiet.logLevel = .error
        let child = Process()
        child.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        child.arguments = ["serve", "--postgres", url, "--kafka", kafka.bootstrapServers ?? "", "--log-level", "error"]
        var environment = ProcessInfo.processInfo.environment
        // The bench's Kafka settings first, then the caller's SKALD_KAFKA_PROPERTIES, which win.
        environment["SKALD_KAFKA_PROPERTIES"] = ["session.timeout.ms=6000,fetch.wait.max.ms=5", environment["SKALD_KAFKA_PROPERTIES"]]
            .compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ",")
        environment["SKALD_PUMP_BATCH_SIZE"] = String(batchSize)
        // Measured with its admin server, as it runs in a deployment, on a port nothing else holds.
        environment["SKALD_ADMIN_PORT"] = environment["SKALD_ADMIN_PORT"] ?? "0"
        child.environment = environment
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

    static func execute(_ url: String, _ query: PostgresQuery) async throws {
        let connection = try await PostgresConnection.connect(to: url)
        defer { Task { await connection.close() } }
        try await connection.query(query)
    }

    /// The type of the store's saga document columns (``SagaDocumentColumns``).
    static func documentColumns(_ url: String) async throws -> SagaDocumentColumns {
        let connection = try await PostgresConnection.connect(to: url)
        defer { Task { await connection.close() } }
        return try await SagaDocumentColumns.read(on: connection)
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
                        topic: "orders.events", key: Array(event.orderId.utf8), value: try SkaldJSON.encode(event),
                        headers: KafkaHeaders(envelope)))
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
