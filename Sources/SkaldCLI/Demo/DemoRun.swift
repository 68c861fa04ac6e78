import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Skald
import SkaldAdmin
import SkaldExamples
import SkaldKafka
import SkaldPostgres
import SkaldRuntime
import Synchronization

/// One run of the demo: sets everything up, places the orders, waits, checks and reports.
struct DemoRun {
    var postgresURL: String
    var migrations: String
    var kafka: String?
    var orders: Int
    var partitions: Int
    var declineRate: Double
    var rate: Int
    var stallTimeout: Duration
    var serve: Bool
    /// The admin HTTP server beside the orchestrator (`/health`, `/ready`, `/metrics`), or none.
    var admin: AdminConfiguration?
    var logger: Logger
    /// Read models kept up to date during the run; the example's `order-board` is checked
    /// against the saga store at the end.
    var projections: [any SagaProjection] = []
    /// How many saga instances the orchestrator keeps folded; nil keeps its default.
    var instanceCacheCapacity: Int? = nil

    /// The topics of the PlaceOrder system.
    static let topics = [
        "orders.commands", "inventory.commands", "payments.commands", "notifications.commands", "orders.events",
        "skald.replies", "skald.dead-letter", "skald.saga-events",
    ]

    func run() async throws -> ConsistencyReport {
        let cluster: MockCluster?
        let bootstrap: String
        if let kafka {
            cluster = nil
            bootstrap = kafka
            say("using Kafka at \(kafka)")
        } else {
            let mock = try MockCluster(brokers: 1)
            for topic in Self.topics { try mock.createTopic(topic, partitions: partitions) }
            cluster = mock
            bootstrap = mock.bootstrapServers
            say("started a Kafka mock cluster at \(bootstrap) (\(Self.topics.count) topics × \(partitions) partitions)")
        }
        defer { cluster?.shutdown() }
        // As every other command: SKALD_KAFKA_PROPERTIES overrides the demo's settings.
        let kafkaConfiguration = try KafkaSettings.demo(bootstrapServers: bootstrap)

        let migrator = try PostgresMigrator(directory: URL(fileURLWithPath: migrations))
        let applied = try await migrator.migrate(url: postgresURL)
        try await ExampleServices.migrateAll(postgresURL: postgresURL)
        say("Postgres migrated: the saga store (\(applied.count) applied now) and the schemas orders, inventory, payments, notifications")

        let runID = String(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(6).lowercased())
        let workload = ExampleWorkload(runID: runID, orders: orders)
        try await workload.seed(servicesURL: postgresURL)
        say("run \(runID): stock for 8 SKUs (one sold out), 60 accounts (10 of them nearly empty)")

        // Before the orchestrator makes its metric handles: handles made earlier report nowhere.
        let metricsRegistry = admin.map { _ in PrometheusBootstrap.registry }
        var orchestratorConfiguration = OrchestratorConfiguration(kafka: kafkaConfiguration, postgresURL: postgresURL)
        if let instanceCacheCapacity { orchestratorConfiguration.instanceCacheCapacity = instanceCacheCapacity }
        let tally = SagaOutcomeTally(forwardingTo: MetricsSystem.factory)
        let orchestrator = try Orchestrator(
            registry: SagaCatalog.registry,
            configuration: orchestratorConfiguration,
            projections: projections, metrics: OrchestratorMetrics(factory: tally), logger: logger
        )
        var services: [any Service] = [orchestrator]
        if let admin, let metricsRegistry {
            services.append(
                AdminServer(
                    configuration: admin, registry: metricsRegistry, checks: ReadinessCheck.orchestrator(orchestrator),
                    api: AdminAPI(orchestrator: orchestrator),
                    beforeScrape: { await orchestrator.sampleLag() },
                    logger: logger,
                    onListening: { port in
                        DemoRun.say("dashboard at http://\(admin.host):\(port)/ (saga API under /api/v1; /health, /ready, /metrics)")
                    }))
        }
        // The services stop together, before the orchestrator (a ServiceGroup stops last first),
        // and publish through one producer, as `skald examples serve` runs them.
        services.append(
            try ExampleServices.makeSharingProducer(ExampleServices.names, kafka: kafkaConfiguration, logger: logger) { name in
                var configuration = ServiceConfiguration(kafka: kafkaConfiguration, postgresURL: postgresURL)
                if name == "payment" { configuration.behaviour = ServiceBehaviour(failureRate: declineRate) }
                return configuration
            })
        let group = ServiceGroup(
            configuration: .init(
                services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        let stopped = Atomic<Bool>(false)
        let running = Task {
            defer { stopped.store(true, ordering: .relaxed) }
            try await group.run()
        }
        say("orchestrator and services order, inventory, payment, notification started")

        // One order first: it completes once every consumer group has joined, so the
        // measured run below is not the time Kafka takes to assign partitions.
        let check = ConsistencyCheck(storeURL: postgresURL, servicesURL: postgresURL)
        let monitor = try await PostgresConnection.connect(to: postgresURL)
        defer { Task { await monitor.close() } }
        // Sagas are stamped by the orchestrator in this process; a minute covers any clock step.
        let createdSince = Date().addingTimeInterval(-60)
        let clock = ContinuousClock()
        let warmUp = ExampleWorkload(runID: runID + "w", orders: 1)
        try await warmUp.seed(servicesURL: postgresURL)
        try await warmUp.place(0..<1, servicesURL: postgresURL)
        let warmUpStarted = clock.now
        while try await check.progress(of: warmUp, on: monitor, createdSince: createdSince).terminal < 1 {
            if stopped.load(ordering: .relaxed) || clock.now - warmUpStarted > stallTimeout {
                await group.triggerGracefulShutdown()
                do {
                    try await running.value
                } catch {
                    var hint = ""
                    if let admin, "\(error)".contains("Address already in use") {
                        hint = " (the admin HTTP server's port \(admin.port) is taken: --admin-port picks another, --no-admin runs none)"
                    }
                    throw DemoFailure(message: "a part stopped before the first order finished: \(error)\(hint)")
                }
                throw DemoFailure(message: "the first order did not finish; is Kafka reachable at \(bootstrap)?")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        say("warm: a first order went through every service in \(format(clock.now - warmUpStarted)) (consumer groups joined)")

        // A checkpoint now rather than in the middle of the measured run (where it would add
        // its writes and make every first touch of a page write a full-page image to the WAL).
        _ = try? await monitor.query("CHECKPOINT")
        // CPU per saga, for this process and (when it runs on this machine) the Postgres
        // cluster: on a shared 2-core machine it moves far less than throughput does.
        let postmaster = await CPUTime.localPostmaster(postgresURL)
        let cpuBefore = CPUTime.now(postmaster: postmaster)
        let walBefore = await WALPosition.read(on: monitor)
        let walFilesBefore = await WALPosition.files(on: monitor)
        // After the warm-up order's milestones, before the run's first order: the run's own counts.
        let countedBefore = tally.counts
        let batchesBefore = tally.pumpBatches
        let started = clock.now
        let startedAt = Date()
        let placing = Task {
            if rate <= 0 {
                try await workload.place(0..<orders, servicesURL: postgresURL)
                return
            }
            // A steady rate: order i falls due i / rate seconds after the start, and each is
            // placed when it falls due, on one connection. A placing that took longer than the
            // gap places everything due by its end at once, in one transaction. (Placing a tenth
            // of a second's orders every 100 ms, as before session 30, started sagas in clumps,
            // and a clump's last saga waited behind the rest at every step: the clumps, not the
            // rate, made much of the latency measured at a rate.)
            let connection = try await workload.orderServiceConnection(servicesURL: postgresURL)
            defer { Task { await connection.close() } }
            var next = 0
            while next < orders {
                let due = min(orders, max(next + 1, Int((clock.now - started) / .seconds(1) * Double(rate)) + 1))
                try await workload.place(next..<due, on: connection)
                next = due
                try await Task.sleep(until: started + .seconds(Double(next) / Double(rate)), clock: clock)
            }
        }
        if rate <= 0 { try await placing.value }
        say("placing \(orders) orders\(rate > 0 ? " at \(rate)/s" : "") (expected: \(workload.expected.completed) complete, \(workload.expected.compensated) compensated)")

        // Progress comes from this process's orchestrator (its milestone counters, through
        // `tally`); the store is asked when those say the run is over, when they have not
        // moved for two seconds (another orchestrator may be doing the work), and every ten
        // seconds regardless. The store's word is the one that ends the run.
        var storeTerminal = 0
        var storeTotal = 0
        var allStarted = false
        var lastStoreCheck = clock.now - .seconds(10)
        var lastTerminal = -1
        var lastProgress = clock.now
        var lastPrint = clock.now
        while true {
            if stopped.load(ordering: .relaxed) {
                _ = try? await running.value
                throw DemoFailure(message: "stopped before every order finished")
            }
            let counted = tally.counts
            let countedTerminal = counted.finished - countedBefore.finished
            let countedTotal = counted.started - countedBefore.started
            let sinceStoreCheck = clock.now - lastStoreCheck
            if (countedTerminal >= orders && sinceStoreCheck >= .milliseconds(500))
                || (clock.now - lastProgress >= .seconds(2) && sinceStoreCheck >= .seconds(1))
                || sinceStoreCheck >= .seconds(10)
            {
                lastStoreCheck = clock.now
                if allStarted {
                    storeTerminal = orders - (try await check.unfinished(of: workload, on: monitor, createdSince: createdSince))
                    storeTotal = orders
                } else {
                    (storeTerminal, storeTotal) = try await check.progress(of: workload, on: monitor, createdSince: createdSince)
                    allStarted = storeTotal >= orders
                }
                if storeTerminal >= orders { break }
            }
            let terminal = min(orders, max(countedTerminal, storeTerminal))
            let total = min(orders, max(countedTotal, storeTotal))
            if terminal != lastTerminal {
                lastTerminal = terminal
                lastProgress = clock.now
            }
            if clock.now - lastPrint >= .seconds(1) {
                lastPrint = clock.now
                say("  \(terminal)/\(orders) sagas finished, \(total) started")
            }
            if clock.now - lastProgress > stallTimeout {
                await group.triggerGracefulShutdown()
                _ = try? await running.value
                throw DemoFailure(message: "no progress for \(stallTimeout) with \(terminal)/\(orders) sagas finished")
            }
            // The run's end is read from the sagas' rows afterwards, so looking every 100 ms
            // only bounds how long the summary waits.
            try await Task.sleep(for: .milliseconds(100))
        }
        let cpu = CPUTime.now(postmaster: postmaster) - cpuBefore
        let batches = tally.pumpBatches - batchesBefore
        let walBytes = await WALPosition.read(on: monitor).flatMap { after in walBefore.map { after - $0 } }
        let walNote = WALPosition.newFilesNote(before: walFilesBefore, after: await WALPosition.files(on: monitor))
        try await placing.value
        var report = try await check.run(workload)
        // Where a saga's latency goes, step by step; a summary without it is still a summary.
        let roundTrips: String
        do {
            roundTrips = try await check.stepRoundTrips(of: workload)?.summary ?? "none: no command was sent, handled and answered"
        } catch {
            roundTrips = "unavailable (\(error))"
        }
        var board: OrderBoardCheck?
        if projections.contains(where: { $0 is OrderBoardProjection }) {
            // The read model follows the store by a batch or two: wait for it, then compare.
            let caughtUp = try await OrderBoardCheck.awaitCaughtUp(on: monitor, orderIdPrefix: workload.orderIdPrefix)
            if !caughtUp.isConsistent { report.problems.append("projection order-board: \(caughtUp.summary)") }
            board = caughtUp
        }
        // From the first order to the last saga's end, both on this process's clock: the
        // orchestrator runs here and stamps `updated_at`.
        let elapsed = report.lastSagaEnd.map { end in
            Duration.milliseconds(Int64((max(0, end.timeIntervalSince(startedAt)) * 1000).rounded()))
        } ?? (clock.now - started)
        Self.emit(
            summary(
                report, board: board, elapsed: elapsed, cpu: cpu, postgresMeasured: postmaster != nil,
                roundTrips: roundTrips, batches: batches, walBytes: walBytes, walNote: walNote, runID: runID))

        if serve {
            say("still running for exploration (Postgres: \(postgresURL), Kafka: \(bootstrap)); Ctrl-C stops everything")
            try await running.value
        } else {
            await group.triggerGracefulShutdown()
            try await running.value
        }
        say("stopped cleanly")
        return report
    }

    private func format(_ duration: Duration) -> String {
        let seconds = duration.inSeconds
        return String(format: "%.1f s", seconds)
    }

    private func say(_ text: String) {
        Self.say(text)
    }

    private static func say(_ text: String) {
        emit("skald demo: \(text)")
    }

    /// Prints `text` and flushes it at once. Standard output into a file or a pipe is block
    /// buffered, so `skald demo --serve > demo.log` would otherwise hold the progress and the
    /// summary back until the demo exits, which under `--serve` is only at Ctrl-C.
    private static func emit(_ text: String) {
        print(text)
        fflush(nil)
    }

    private func summary(
        _ report: ConsistencyReport, board: OrderBoardCheck?, elapsed: Duration, cpu: CPUTime, postgresMeasured: Bool,
        roundTrips: String, batches: PumpBatchCounts, walBytes: Int?, walNote: String, runID: String
    ) -> String {
        let seconds = elapsed.inSeconds
        let throughput = seconds > 0 ? Double(orders) / seconds : 0
        let cpuLine = String(format: "  CPU per saga            %.0f µs in this process", cpu.process / Double(orders) * 1e6)
            + (postgresMeasured ? String(format: ", %.0f µs in Postgres", cpu.postgres / Double(orders) * 1e6) : "")
            + " (\(ProcessAllocator.name))"
        func mark(_ ok: Bool) -> String { ok ? "ok" : "FAILED" }
        var lines = [
            "",
            "── summary of run \(runID) ─────────────────────────────────────",
            "  orders placed           \(orders)",
            "  sagas completed         \(report.completed)   (expected \(report.expected.completed))",
            "  sagas compensated       \(report.compensated)   (expected \(report.expected.compensated): sold out or payment declined)",
            "  sagas failed            \(report.failed)   (need an operator)",
            "  steps timed out         \(report.timedOut) sagas",
            String(format: "  throughput              %.0f sagas/s (%.2f s from the first order to the last saga's end)", throughput, seconds),
            String(format: "  saga latency            p50 %.1f ms, p99 %.1f ms (saga start to its last step)", report.latencyP50, report.latencyP99),
            "  a step's round trip     \(roundTrips)",
            cpuLine,
        ]
        if let kafka = cpu.kafkaLine(per: orders, unit: "saga") { lines.append("    \(kafka)") }
        if let postgres = cpu.postgresLine(per: orders, unit: "saga") { lines.append("    \(postgres)") }
        lines.append("  pump batches            \(batches.summary)")
        if let walBytes {
            lines.append(
                String(format: "  WAL per saga            %.1f kB (the whole cluster, during the run)", Double(walBytes) / Double(orders) / 1000)
                    + walNote)
        }
        lines += [
            "  consistency",
            "    stock = available + reserved, per SKU             \(mark(!report.problems.contains { $0.hasPrefix("stock") }))",
            "    balance + charged = initial, per account          \(mark(!report.problems.contains { $0.hasPrefix("account") }))",
            "    completed orders confirmed, reserved, paid, notified; compensated orders left no net effect   \(mark(!report.problems.contains { $0.hasPrefix("order") }))",
            "    every order ended as its fate says                \(report.unexpected.isEmpty ? "ok" : "\(report.unexpected.count) differ")"
                + (declineRate > 0 ? " (--decline-rate declines some payments at random: differences expected)" : ""),
        ]
        if let board {
            lines.append("    read model order-board agrees with the saga store  \(mark(board.isConsistent))")
        }
        for problem in report.problems.prefix(10) { lines.append("    ! \(problem)") }
        for difference in report.unexpected.prefix(5) { lines.append("    ~ \(difference)") }
        if let board { lines.append("  read model order-board   \(board.summary)") }
        lines.append(report.isConsistent ? "  result: CONSISTENT" : "  result: INCONSISTENT (\(report.problems.count) problems)")
        lines.append("")
        return lines.joined(separator: "\n")
    }
}
