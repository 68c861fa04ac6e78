import ArgumentParser
import Foundation
import Logging

/// `skald bench e2e`: PlaceOrder sagas through everything — the Kafka mock, the orchestrator,
/// the four example services with their own schemas, inboxes and outboxes, and Postgres
/// with durable commits — all in this process, as `skald demo` runs them.
///
/// It reports sagas per second (from the first order placed to the last saga's end) and
/// p50/p99 saga latency, and checks the run's consistency like the demo.
struct E2EBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "e2e",
        abstract: "PlaceOrder sagas per second and their latency through the orchestrator and the four example services."
    )

    @OptionGroup var postgres: PostgresOptions

    @Option(help: "PlaceOrder sagas (orders) to run.")
    var sagas: Int = 20_000

    @Option(help: "Orders placed per second; 0 places them all at once (measures capacity).")
    var rate: Int = 0

    @Option(help: "Partitions of every topic (the mock keeps about 5 MiB per partition).")
    var partitions: Int = 32

    @Option(help: "The folder of the orchestrator's NNNN_name.sql migration files.")
    var migrations: String = "schemas/postgres"

    @Flag(help: "Also keep the registered projections (the example's order-board) up to date, which mirrors every saga event to Kafka.")
    var projections = false

    @Option(help: "Saga instances the orchestrator keeps folded (its `skald.instanceCache.capacity`, 20,000 by default). A burst with more sagas in flight than this reads and folds their logs again.")
    var instanceCache: Int?

    func validate() throws {
        guard sagas > 0, partitions > 0, rate >= 0 else {
            throw ValidationError("--sagas and --partitions must be positive, --rate not negative")
        }
        if let instanceCache, instanceCache < 0 { throw ValidationError("--instance-cache must not be negative") }
    }

    func run() async throws {
        var logger = Logger(label: "skald.bench.e2e")
        logger.logLevel = .error
        let run = DemoRun(
            postgresURL: try postgres.requiredURL(), migrations: migrations, kafka: nil, orders: sagas,
            partitions: partitions, declineRate: 0, rate: rate, stallTimeout: .seconds(120), serve: false, admin: nil,
            logger: logger, projections: projections ? SagaCatalog.projections : [], instanceCacheCapacity: instanceCache
        )
        let report = try await run.run()
        guard report.isConsistent else {
            throw DemoFailure(message: "the run was not consistent; see the summary above")
        }
    }
}
