import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import SkaldAdmin
import SkaldExamples
import SkaldKafka

/// `skald examples serve`: runs example services as a process, until SIGTERM or SIGINT.
///
/// Each service owns its schema (created on start), consumes `<service>.commands` in its
/// own consumer group and replies on `skald.replies`. SIGTERM commits the batch in hand,
/// publishes what is committed and exits 0.
struct ExamplesServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run example services (order, inventory, payment, notification) as one process."
    )

    @Option(help: "Which services: order, inventory, payment, notification, a comma-separated list, or all.")
    var service: String = "all"

    @OptionGroup var postgres: PostgresOptions

    @Option(help: "Kafka bootstrap servers (default: $SKALD_KAFKA_BOOTSTRAP_SERVERS, or the file in $SKALD_KAFKA_BOOTSTRAP_FILE).")
    var kafka: String?

    @Option(name: .customLong("kafka-property"), help: "A librdkafka property name=value (repeatable; also $SKALD_KAFKA_PROPERTIES, comma-separated).")
    var kafkaProperties: [String] = []

    @Option(help: "Prefix for the services' schema names (e.g. `t1_` gives t1_orders, t1_payments, …).")
    var schemaPrefix: String = ""

    @Option(help: "Share of commands (0…1) answered with a failure: payments declined, reservations refused, notifications failed.")
    var failureRate: Double = 0

    @Option(help: "Milliseconds each command takes before it is handled.")
    var delayMs: Int = 0

    @Flag(help: "Apply commands but send no replies (a participant gone quiet).")
    var noReply = false

    @Flag(
        help: """
            Apply the services' contract migrations at start, which remove what earlier versions use: \
            only once no service of an earlier version runs. On a new schema they apply anyway.
            """)
    var contractMigrations = false

    @Option(help: "Serve /health, /ready and /metrics (Prometheus) on this port; none unless given.")
    var metricsPort: Int?

    @Option(help: "The address the metrics server listens on.")
    var metricsHost: String = "127.0.0.1"

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func validate() throws {
        guard (0...1).contains(failureRate) else { throw ValidationError("--failure-rate must be between 0 and 1") }
        guard delayMs >= 0 else { throw ValidationError("--delay-ms must not be negative") }
        if let metricsPort, !(0...65_535).contains(metricsPort) {
            throw ValidationError("--metrics-port must be a port number (0 picks a free one)")
        }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown log level '\(logLevel)'") }
        _ = try serviceNames()
    }

    func serviceNames() throws -> [String] {
        let names = service == "all" ? ExampleServices.names : service.split(separator: ",").map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        for name in names where !ExampleServices.names.contains(name) {
            throw ValidationError("unknown service '\(name)': expected \(ExampleServices.names.joined(separator: ", ")) or all")
        }
        guard !names.isEmpty else { throw ValidationError("--service names no service") }
        return names
    }

    func run() async throws {
        var logger = Logger(label: "skald.examples")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        let kafkaConfiguration = try KafkaSettings.resolve(bootstrap: kafka, properties: kafkaProperties)
        var configuration = ServiceConfiguration(
            kafka: kafkaConfiguration, postgresURL: try postgres.requiredURL(), schemaPrefix: schemaPrefix,
            behaviour: ServiceBehaviour(failureRate: failureRate, delay: .milliseconds(delayMs), silent: noReply)
        )
        configuration.batchSize = 200
        configuration.appliesContractMigrations = contractMigrations
        // Before the services make their metric handles: handles made earlier report nowhere.
        let registry = metricsPort.map { _ in PrometheusBootstrap.registry }
        // Stopped together: each waits out its own relay's round at a stop, so in turn they add
        // up. One producer for all: one Kafka client per process, not one per service.
        var services: [any Service] = [
            try ExampleServices.makeSharingProducer(try serviceNames(), kafka: kafkaConfiguration, logger: logger) { _ in
                configuration
            }
        ]
        if let metricsPort, let registry {
            services.append(
                AdminServer(
                    configuration: AdminConfiguration(host: metricsHost, port: metricsPort), registry: registry, checks: [],
                    logger: logger))
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
}
