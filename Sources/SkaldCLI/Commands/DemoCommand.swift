import ArgumentParser

/// `skald demo` (placeholder until the wiring lands).
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "demo", abstract: "Run the demo.")
    func run() async throws { throw ValidationError("not built yet") }
}
