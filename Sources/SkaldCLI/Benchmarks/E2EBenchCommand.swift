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

    // Eight, not more: every produce request carries one message set per partition it
    // touches, the mock answers a fetch with one set per partition and walks a partition's sets
    // wherever the consumer is behind, so a burst split over 32 partitions cost about a fifth
    // more CPU per saga than over 8 (docs/benchmarks-e2e.md, session 25). Not fewer: 4 lost to
    // 8 in every round measured. The mock drops a partition's oldest messages beyond 5 MiB,
    // read or not: 8 partitions hold 40 MiB a topic, a 20,000-saga burst's whole log on every
    // topic but `skald.replies` (about 2.5 kB a saga), where the pump would have to fall about
    // 17,000 sagas behind to lose one. With `--projections` every saga event goes to Kafka as
    // well, a dozen a saga that the projection may read far behind: 32 then, as before. A lost
    // message shows in the summary: a step timed out, or the run stalls.
    @Option(help: "Partitions of every topic (the mock keeps about 5 MiB per partition; raise it for runs far beyond 20,000 sagas). Default: 8, or 32 with --projections.")
    var partitions: Int?

    @Option(help: "The folder of the orchestrator's NNNN_name.sql migration files.")
    var migrations: String = "schemas/postgres"

    @Flag(help: "Also keep the registered projections (the example's order-board) up to date, which mirrors every saga event to Kafka.")
    var projections = false

    @Option(help: "Saga instances the orchestrator keeps folded (its `skald.instanceCache.capacity`, 20,000 by default). A burst with more sagas in flight than this reads and folds their logs again.")
    var instanceCache: Int?

    /// The partitions of every topic: `--partitions`, else 8, or 32 with `--projections`.
    var topicPartitions: Int { partitions ?? (projections ? 32 : 8) }

    func validate() throws {
        guard sagas > 0, partitions.map({ $0 > 0 }) ?? true, rate >= 0 else {
            throw ValidationError("--sagas and --partitions must be positive, --rate not negative")
        }
        if let instanceCache, instanceCache < 0 { throw ValidationError("--instance-cache must not be negative") }
    }

    func run() async throws {
        var logger = Logger(label: "skald.bench.e2e")
        logger.logLevel = .error
        let run = DemoRun(
            postgresURL: try postgres.requiredURL(), migrations: migrations, kafka: nil, orders: sagas,
            partitions: topicPartitions, declineRate: 0, rate: rate, stallTimeout: .seconds(120), serve: false, admin: nil,
            logger: logger, projections: projections ? SagaCatalog.projections : [], instanceCacheCapacity: instanceCache
        )
        let report = try await run.run()
        guard report.isConsistent else {
            throw DemoFailure(message: "the run was not consistent; see the summary above")
        }
    }
}
