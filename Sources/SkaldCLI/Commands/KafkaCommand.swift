import ArgumentParser

/// `skald kafka` (placeholder until the wiring lands).
struct KafkaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "kafka", abstract: "Kafka tools.")
    func run() async throws { throw ValidationError("not built yet") }
}
