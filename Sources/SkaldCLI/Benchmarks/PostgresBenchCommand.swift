import ArgumentParser

/// `skald bench postgres` (placeholder until its owner fills it in).
struct PostgresBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "postgres", abstract: "Benchmark postgres.")
    func run() async throws { throw ValidationError("not built yet") }
}
