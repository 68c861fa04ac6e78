import ArgumentParser

/// `skald bench core` (placeholder until its owner fills it in).
struct CoreBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "core", abstract: "Benchmark core.")
    func run() async throws { throw ValidationError("not built yet") }
}
