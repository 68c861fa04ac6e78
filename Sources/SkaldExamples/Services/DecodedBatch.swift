import Skald

/// A batch of commands decoded into a handler's own command type, and the outcomes so far.
///
/// Commands that cannot be decoded, or whose type the handler does not know, are answered
/// when the batch is decoded; the handler answers the rest in order with ``answer(_:with:)``.
struct DecodedBatch<Command> {
    /// The decoded commands with their positions in the batch, in the batch's order.
    private(set) var commands: [(index: Int, command: Command)] = []
    private var outcomes: [CommandOutcome?]

    /// Decodes each of `batch` with `decode`, which returns nil for a type it does not handle
    /// and throws ``ExampleServiceError`` for a payload it cannot read.
    init(_ batch: [ServiceCommand], decode: (ServiceCommand) throws -> Command?) {
        outcomes = Array(repeating: nil, count: batch.count)
        commands.reserveCapacity(batch.count)
        for (index, command) in batch.enumerated() {
            do {
                if let decoded = try decode(command) {
                    commands.append((index, decoded))
                } else {
                    outcomes[index] = .unknownType
                }
            } catch let error as ExampleServiceError {
                outcomes[index] = .unreadable(error)
            } catch {
                outcomes[index] = .unreadable(ExampleServiceError("command \(command.envelope.id): \(error)"))
            }
        }
    }

    /// Records the reply to the command at `index` in the batch.
    mutating func answer(_ index: Int, with reply: any SagaMessage) {
        outcomes[index] = .reply(reply)
    }

    /// One outcome per command of the batch, in its order.
    ///
    /// A decoded command the handler left unanswered is a bug in the handler; it counts as a
    /// type the handler does not know, which its saga's step timeout deals with.
    var results: [CommandOutcome] {
        outcomes.map { $0 ?? .unknownType }
    }
}
