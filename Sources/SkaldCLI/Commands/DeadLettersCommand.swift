import ArgumentParser
import Foundation
import Logging
import SkaldKafka
import SkaldPostgres
import SkaldRuntime

/// `skald dead-letters`: the messages the pump could not handle, and redriving one.
struct DeadLettersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dead-letters",
        abstract: "List the messages the orchestrator could not parse or route, or publish one again.",
        subcommands: [DeadLettersListCommand.self, DeadLettersRedriveCommand.self, DeadLettersPurgeCommand.self]
    )
}

/// `skald dead-letters list`: newest first, as `GET /api/v1/dead-letters` answers.
struct DeadLettersListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List dead letters, newest first, with why.")

    @OptionGroup var postgres: PostgresOptions

    @Option(help: "Only those naming this saga (ce_sagaid).")
    var saga: String?

    @Flag(help: "Only those not redriven yet.")
    var pending = false

    @Option(help: "How many to list (1 to 1000).")
    var limit: Int = 50

    @Flag(help: "Print JSON, as the admin API answers.")
    var json = false

    func validate() throws {
        guard (1...1000).contains(limit) else { throw ValidationError("--limit must be from 1 to 1000") }
    }

    func run() async throws {
        let letters = try await SagasCommand.withStore(postgres) { pool in
            try await DeadLetterStore(pool: pool).list(limit: limit, sagaId: saga.flatMap { $0.isEmpty ? nil : $0 }, pendingOnly: pending)
        }
        if json {
            print(try SagasCommand.json(letters))
            return
        }
        guard !letters.isEmpty else {
            print("no dead letters")
            return
        }
        for letter in letters {
            let redriven = letter.redrivenAt.map { " (redriven by \(letter.redrivenBy ?? "?") \($0.formatted(.iso8601)))" } ?? ""
            print("\(letter.id)  \(letter.deadLetteredAt.formatted(.iso8601))  \(letter.sourceTopic)/\(letter.sourcePartition)@\(letter.sourceOffset)\(redriven)")
            print("    \(letter.messageType ?? "no ce_type")  \(letter.messageId ?? "no ce_id")  saga \(letter.sagaId ?? "none")")
            print("    \(letter.reason)")
        }
    }
}

/// `skald dead-letters purge --older-than DAYS`: the table keeps whole payloads until told otherwise.
struct DeadLettersPurgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "purge", abstract: "Delete the dead letters recorded more than some days ago (the topic keeps its own).")

    @OptionGroup var postgres: PostgresOptions

    @Option(help: "Delete those recorded more than this many days ago.")
    var olderThan: Int

    func validate() throws {
        guard olderThan >= 0 else { throw ValidationError("--older-than must be 0 or more days") }
    }

    func run() async throws {
        let cutoff = Date().addingTimeInterval(-Double(olderThan) * 86_400)
        let deleted = try await SagasCommand.withStore(postgres) { pool in
            try await DeadLetterStore(pool: pool).purge(before: cutoff)
        }
        print("deleted \(deleted) dead letters recorded before \(cutoff.formatted(.iso8601))")
    }
}

/// `skald dead-letters redrive ID`: publishes it again to the topic it came from.
struct DeadLettersRedriveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "redrive",
        abstract: "Publish a dead letter again to the topic it came from, once what refused it is fixed.",
        discussion: """
            The message goes out as it was consumed (key, value, headers without the skald_dlq_* ones), \
            and the dead letter records who redrove it. The orchestrator then handles it like any message: \
            applied, skipped if its id was applied since, or dead-lettered again as a new dead letter.
            """)

    @OptionGroup var postgres: PostgresOptions

    @Option(name: .customLong("kafka"), help: "Kafka bootstrap servers (default: $SKALD_KAFKA_BOOTSTRAP_SERVERS).")
    var kafka: String?

    @Option(name: .customLong("kafka-property"), help: "A librdkafka property, name=value (repeatable).")
    var kafkaProperties: [String] = []

    @Option(help: "Who redrives it, for the record.")
    var actor: String = ProcessInfo.processInfo.environment["USER"] ?? "cli"

    @Argument(help: "The dead letter's id (see `skald dead-letters list`).")
    var id: Int64

    func run() async throws {
        let configuration = try KafkaSettings.resolve(bootstrap: kafka, properties: kafkaProperties)
        var logger = Logger(label: "skald.dead-letters")
        logger.logLevel = .error
        let producer = try KafkaProducer(configuration: configuration, logger: logger)
        let outcome: DeadLetterRedrive
        do {
            outcome = try await SagasCommand.withStore(postgres) { pool in
                try await DeadLetterStore(pool: pool).redrive(id: id, by: actor, through: producer)
            }
            await producer.shutdown()
        } catch {
            await producer.shutdown()
            throw error
        }
        switch outcome {
        case .redriven(let letter):
            print("redrove dead letter \(id) to \(letter.sourceTopic) as \(actor)")
        case .notFound:
            throw SettingsError("no dead letter with id \(id)")
        case .alreadyRedriven(let letter):
            throw SettingsError(
                "dead letter \(id) was redriven already by \(letter.redrivenBy ?? "someone"); if it failed again, it is a new dead letter")
        }
    }
}
