import ArgumentParser

/// `skald kafka …`: Kafka tools for development.
struct KafkaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kafka",
        abstract: "Kafka tools for development.",
        subcommands: [KafkaMockCommand.self]
    )
}
