public import ArgumentParser

/// The root of the `skald` command line.
///
/// It lives in a library so that a team's own executable, with its own sagas
/// registered, gets the same commands.
public struct SkaldCommand: AsyncParsableCommand {
    /// The command's name, abstract and subcommands.
    public static let configuration = CommandConfiguration(
        commandName: "skald",
        abstract: "An event-sourced saga orchestrator over Kafka and Postgres.",
        subcommands: [
            DemoCommand.self,
            ServeCommand.self,
            MigrateCommand.self,
            ReplayCommand.self,
            SagasCommand.self,
            ProjectionsCommand.self,
            DeadLettersCommand.self,
            KafkaCommand.self,
            ExamplesCommand.self,
            BenchCommand.self,
        ]
    )

    /// Creates the command; ArgumentParser fills in the options.
    public init() {}
}
