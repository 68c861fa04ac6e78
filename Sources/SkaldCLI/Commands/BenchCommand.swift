import ArgumentParser

/// `skald bench …`: throughput benchmarks of each layer, run on this machine.
///
/// Speed is measured here, never asserted by timed tests. Record what these
/// print, with the command line, in `docs/benchmarks.md`.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the throughput of Kafka, Postgres and the saga engine on this machine.",
        subcommands: [
            KafkaBenchCommand.self,
            PostgresBenchCommand.self,
            CoreBenchCommand.self,
            OrchestratorBenchCommand.self,
            E2EBenchCommand.self,
            HopsBenchCommand.self,
        ]
    )
}
