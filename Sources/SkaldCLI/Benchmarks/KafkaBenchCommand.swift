import ArgumentParser

/// `skald bench kafka` (placeholder until its owner fills it in).
struct KafkaBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "kafka", abstract: "Benchmark kafka.")
    func run() async throws { throw ValidationError("not built yet") }
}
