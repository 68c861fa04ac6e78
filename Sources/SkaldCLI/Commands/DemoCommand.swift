import ArgumentParser
import Foundation
import SkaldKafka
import SkaldPostgres

/// `skald demo`: the README's main job.
///
/// At this stage it proves the wiring end to end: it starts the Kafka mock
/// cluster in-process, migrates Postgres, produces a batch of messages with
/// awaited delivery reports, consumes them through a consumer group, records
/// each one in Postgres exactly once (an inbox keyed by message id, in the same
/// transaction as the effect) and commits offsets only after that transaction.
/// It ends with a summary a person can check.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the demo: Kafka mock cluster, Postgres, and messages round-tripped through both."
    )

    @OptionGroup var postgres: PostgresOptions

    @Option(help: "The folder of NNNN_name.sql migration files.")
    var migrations: String = "schemas/postgres"

    @Option(help: "Kafka bootstrap servers; when absent the demo starts a mock cluster in-process.")
    var kafka: String?

    @Option(help: "How many messages to round-trip.")
    var messages: Int = 20_000

    @Option(help: "How many partitions the demo topic has.")
    var partitions: Int = 8

    func validate() throws {
        guard messages > 0 else { throw ValidationError("--messages must be positive") }
        guard partitions > 0 else { throw ValidationError("--partitions must be positive") }
    }

    func run() async throws {
        let url = try postgres.requiredURL()
        let runID = UUID().uuidString.prefix(8).lowercased()
        let topic = "skald.demo-\(runID)"

        let cluster: MockCluster?
        let bootstrap: String
        if let kafka {
            cluster = nil
            bootstrap = kafka
            print("skald demo: using Kafka at \(kafka)")
        } else {
            let mock = try MockCluster(brokers: 3)
            try mock.createTopic(topic, partitions: partitions)
            cluster = mock
            bootstrap = mock.bootstrapServers
            print("skald demo: started a Kafka mock cluster (3 brokers) at \(bootstrap)")
        }
        defer { cluster?.shutdown() }

        let migrator = try PostgresMigrator(directory: URL(fileURLWithPath: migrations))
        let applied = try await migrator.migrate(url: url)
        print("skald demo: Postgres migrated (\(applied.count) applied now, \(migrator.migrations.count) in all)")

        let pool = PostgresPool(url: url, minimumConnections: 1, maximumConnections: 2)
        defer { Task { await pool.close() } }
        try await pool.withConnection { connection in
            try await connection.execute(
                """
                CREATE TABLE IF NOT EXISTS demo_roundtrip (
                    run_id text NOT NULL, message_id text NOT NULL, partition integer NOT NULL,
                    kafka_offset bigint NOT NULL, PRIMARY KEY (run_id, message_id))
                """
            )
        }

        let round = DemoRoundTrip(
            bootstrap: bootstrap, topic: topic, runID: String(runID), count: messages, pool: pool
        )
        let summary = try await round.run()
        summary.print()
        guard summary.isConsistent else {
            throw DemoFailure(message: "the round trip lost or duplicated messages; see the summary above")
        }
    }
}

/// The demo found an inconsistency: it says so and exits non-zero.
struct DemoFailure: Error, CustomStringConvertible {
    var message: String
    var description: String { "skald demo: \(message)" }
}
