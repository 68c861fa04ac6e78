import ArgumentParser

/// `skald examples …`: the example domain services of the PlaceOrder saga.
struct ExamplesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "examples",
        abstract: "The example order, inventory, payment and notification services.",
        subcommands: [ExamplesServeCommand.self, ExamplesPlaceCommand.self]
    )
}
