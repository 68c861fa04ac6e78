import ArgumentParser
import Foundation
import Logging
import SkaldAdmin
import SkaldExamples

/// `skald demo`: the README's main job — the PlaceOrder system running for real.
///
/// It starts the Kafka mock cluster in-process (or uses `--kafka`), migrates Postgres,
/// starts the orchestrator and the four example services, places orders (some fail by
/// stock, some by payment), shows progress, and ends with a summary a person can check.
/// It exits non-zero when the consistency check fails.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the PlaceOrder demo: orchestrator, four services, Kafka and Postgres, with a checked summary."
    )

    @OptionGroup var postgres: PostgresOptions

    @Option(help: "The folder of the orchestrator's NNNN_name.sql migration files.")
    var migrations: String = "schemas/postgres"

    @Option(help: "Kafka bootstrap servers; when absent the demo starts a mock cluster in-process.")
    var kafka: String?

    @Option(help: "How many orders to place (5% ask for a sold-out SKU, 10% belong to customers who cannot pay).")
    var orders: Int = 1_000

    @Option(help: "Partitions per topic of the in-process mock cluster.")
    var partitions: Int = 4

    @Option(help: "Extra share of payments (0…1) the payment service declines at random.")
    var declineRate: Double = 0

    @Option(help: "Orders placed per second; 0 places them all at once (a burst).")
    var rate: Int = 0

    @Option(help: "Seconds without progress after which the demo gives up.")
    var stallTimeout: Int = 120

    @Flag(help: "Keep everything running after the summary, until Ctrl-C.")
    var serve = false

    @Option(help: "Port of the admin HTTP server on 127.0.0.1 (dashboard, saga API, /health, /ready, /metrics); 0 picks a free one.")
    var adminPort: Int = 8080

    @Flag(help: "Run no admin HTTP server.")
    var noAdmin = false

    @Option(help: "Log level of the orchestrator and services: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "error"

    func validate() throws {
        guard orders > 0 else { throw ValidationError("--orders must be positive") }
        guard partitions > 0 else { throw ValidationError("--partitions must be positive") }
        guard rate >= 0 else { throw ValidationError("--rate must not be negative") }
        guard stallTimeout > 0 else { throw ValidationError("--stall-timeout must be positive") }
        guard (0...1).contains(declineRate) else { throw ValidationError("--decline-rate must be between 0 and 1") }
        guard (0...65_535).contains(adminPort) else { throw ValidationError("--admin-port must be a port number (0 picks a free one)") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown log level '\(logLevel)'") }
    }

    func run() async throws {
        var logger = Logger(label: "skald.demo")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .warning
        let demo = DemoRun(
            postgresURL: try postgres.requiredURL(), migrations: migrations, kafka: kafka, orders: orders,
            partitions: partitions, declineRate: declineRate, rate: rate, stallTimeout: .seconds(stallTimeout), serve: serve,
            admin: noAdmin ? nil : AdminConfiguration(port: adminPort), logger: logger,
            projections: SagaCatalog.projections
        )
        let report = try await demo.run()
        guard report.isConsistent else {
            throw DemoFailure(message: "the consistency check failed; see the summary above")
        }
    }
}

/// The demo found an inconsistency or could not finish: it says so and exits non-zero.
struct DemoFailure: Error, CustomStringConvertible {
    var message: String
    var description: String { "skald demo: \(message)" }
}
