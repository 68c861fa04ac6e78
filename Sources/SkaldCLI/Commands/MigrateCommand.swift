import ArgumentParser

/// `skald migrate` (placeholder until the wiring lands).
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "migrate", abstract: "Apply migrations.")
    func run() async throws { throw ValidationError("not built yet") }
}
