public import SkaldPostgres
public import Skald


/// The domain logic of one example service: its tables and how it answers each command.
///
/// ``ParticipantService`` does the plumbing around it (consumer group, inbox, outbox,
/// relay, replies); a handler only reads and writes its own schema, on the connection
/// it is given, inside the transaction that also records the command in the inbox.
public protocol CommandHandler: Sendable {
    /// The service's name, e.g. `payment`; also its default consumer group is `<name>-service`.
    var serviceName: String { get }
    /// The schema it owns by default, e.g. `payments`.
    var defaultSchema: String { get }
    /// The topic it consumes, e.g. `payments.commands`.
    var commandsTopic: String { get }
    /// The SQL that creates its own tables (the inbox and outbox come from ``ServiceSchema``).
    var tablesSQL: String { get }

    /// Applies `command` and returns the reply, or `nil` for a command type it does not know.
    ///
    /// Runs inside a transaction on `connection`, isolated to it: the handler's statements
    /// run one after another on the connection's own thread, without a hop between threads
    /// for each. Throwing rolls the whole batch back.
    func handle(
        _ command: ServiceCommand, on connection: isolated PostgresConnection, behaviour: ServiceBehaviour
    ) async throws -> (any SagaMessage)?
}
