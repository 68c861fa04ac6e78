import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import SkaldAdmin
import SkaldPostgres
import SkaldRuntime

/// `skald serve`: runs the orchestrator until SIGTERM or SIGINT.
///
/// On SIGTERM it finishes the batch in hand, commits, publishes what is committed,
/// flushes the producer and exits 0. Several processes with the same group id share
/// the partitions; when one dies the others take over its sagas.
///
/// Unless turned off, the admin HTTP server runs beside it (`/health`, `/ready`, `/metrics`
/// on `127.0.0.1:8080` by default); a port that cannot be bound stops the command.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the saga orchestrator (message pump, outbox relay, timers)."
    )

    @Option(help: "A JSON configuration file (keys under `skald.`; environment variables override it).")
    var config: String?

    @Option(name: .customLong("postgres"), help: "Postgres URL (overrides SKALD_POSTGRES_URL).")
    var postgres: String?

    @Option(name: .customLong("kafka"), help: "Kafka bootstrap servers (overrides SKALD_KAFKA_BOOTSTRAP_SERVERS).")
    var kafka: String?

    @Flag(help: "Apply the Postgres migrations before serving.")
    var migrate = false

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func run() async throws {
        let settings = try await ServeSettings.load(configFile: config, postgres: postgres, kafka: kafka)
        var logger = Logger(label: "skald")
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("unknown log level '\(logLevel)'")
        }
        logger.logLevel = level
        if migrate || settings.migrateOnStart {
            let migrator = try PostgresMigrator(directory: URL(fileURLWithPath: settings.migrations))
            let applied = try await migrator.migrate(url: settings.orchestrator.postgresURL)
            logger.info("migrations applied", metadata: ["count": "\(applied.count)"])
        } else {
            try await Self.refuseOlderStore(settings, logger: logger)
        }
        // Before anything creates a metric handle: handles made earlier would report nowhere.
        let metricsRegistry = settings.admin.map { _ in PrometheusBootstrap.registry }
        let orchestrator = try Orchestrator(
            registry: SagaCatalog.registry, configuration: settings.orchestrator,
            projections: settings.runsProjections ? SagaCatalog.projections : [], logger: logger
        )
        var services: [any Service] = [orchestrator]
        if let admin = settings.admin, let metricsRegistry {
            services.append(
                AdminServer(
                    configuration: admin, registry: metricsRegistry, checks: ReadinessCheck.orchestrator(orchestrator),
                    api: AdminAPI(orchestrator: orchestrator, access: settings.access, stuckAfter: settings.stuckAfter),
                    beforeScrape: { await orchestrator.sampleLag() },
                    logger: logger))
            if settings.access.isOpen, !AdminConfiguration.isLoopback(admin.host) {
                logger.warning(
                    "the saga API on \(admin.host) has no tokens: anyone who can reach it may start and abort sagas; set SKALD_ADMIN_OPERATOR_TOKENS")
            }
        }
        let group = ServiceGroup(
            configuration: .init(
                services: services.map { .init(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
    }

    /// Refuses to serve a store that lacks migrations this binary ships: a table it writes (dead
    /// letters, projection positions) would be missing, and the failures would come one message
    /// at a time. Without the migrations folder there is nothing to compare with, and it goes on.
    static func refuseOlderStore(_ settings: ServeSettings, logger: Logger) async throws {
        guard FileManager.default.fileExists(atPath: settings.migrations) else {
            logger.warning(
                "no migrations folder to check the store against", metadata: ["folder": "\(settings.migrations)"])
            return
        }
        let migrator = try PostgresMigrator(directory: URL(fileURLWithPath: settings.migrations))
        let connection = try await PostgresConnection.connect(to: settings.orchestrator.postgresURL)
        let pending: [PostgresMigration]
        do {
            // A contract migration only removes what earlier versions use: this one runs without it.
            pending = try await migrator.pending(on: connection).filter { !$0.isContract }
            await connection.close()
        } catch {
            await connection.close()
            throw error
        }
        guard pending.isEmpty else {
            throw SettingsError(
                "the saga store lacks migrations \(pending.map(\.fileName).joined(separator: ", ")): "
                    + "apply them with `skald migrate` (or `skald serve --migrate`) first")
        }
    }
}
