public import SkaldPostgres
public import Skald


/// The domain logic of one example service: its tables and how it answers each command.
///
/// ``ParticipantService`` does the plumbing around it (consumer group, inbox, outbox,
/// relay, replies); a handler only reads and writes its own schema, on the connection
/// it is given, inside the transaction that also records the commands in the inbox.
///
/// A handler takes a whole batch at once, so it can read the rows the batch touches in one
/// round trip and write their new values in another, whatever the batch's size: set-based
/// statements instead of one or two per command, which is where an example service's
/// Postgres time went (docs/benchmarks-e2e.md, session 14). The answers must be the ones the
/// commands would get one batch at a time, in the batch's order.
public protocol CommandHandler: Sendable {
    /// The service's name, e.g. `payment`; also its default consumer group is `<name>-service`.
    var serviceName: String { get }
    /// The schema it owns by default, e.g. `payments`.
    var defaultSchema: String { get }
    /// The topic it consumes, e.g. `payments.commands`.
    var commandsTopic: String { get }
    /// The SQL that creates its own tables (the inbox and outbox come from ``ServiceSchema``).
    var tablesSQL: String { get }
    /// Later changes to its own tables, oldest first, each a migration of its own after
    /// ``tablesSQL`` (which, once applied, never changes). Empty by default.
    ///
    /// A change's version is its place in this list (``ServiceSchema/firstTablesChangeVersion``
    /// onwards) and its recorded name includes ``serviceName``: the list only grows at its end,
    /// and an applied change never changes, or every later start fails on its checksum.
    var tablesChanges: [ServiceTablesChange] { get }

    /// Applies `commands` in order and answers each: one outcome per command, in the same order.
    ///
    /// Runs inside a transaction on `connection`, isolated to it: the handler's statements
    /// run one after another on the connection's own thread, without a hop between threads
    /// for each. Throwing rolls the whole batch back; a command that cannot be read is an
    /// ``CommandOutcome/unreadable(_:)`` outcome, not a thrown error, so it does not hold
    /// the rest of its batch up.
    func handle(
        _ commands: [ServiceCommand], on connection: isolated PostgresConnection, behaviour: ServiceBehaviour
    ) async throws -> [CommandOutcome]
}

/// A change to a service's own tables, applied as a migration after the ones that created them.
public struct ServiceTablesChange: Sendable {
    /// Names the migration (`<version>_<service>_<name>.sql`): lower-case words joined by `_`.
    public var name: String
    /// The statements.
    public var sql: String

    /// A change called `name`, made by `sql`.
    public init(name: String, sql: String) {
        self.name = name
        self.sql = sql
    }
}

/// What a handler made of one command.
public enum CommandOutcome: Sendable {
    /// Applied (or recognised as applied before); this is the reply.
    case reply(any SagaMessage)
    /// A command type the service does not handle.
    case unknownType
    /// A command whose payload does not decode as its type says.
    case unreadable(ExampleServiceError)
}

extension CommandHandler {
    /// No changes: the tables are as ``tablesSQL`` creates them.
    public var tablesChanges: [ServiceTablesChange] { [] }

    /// Applies one command as a batch of its own and returns its reply, or `nil` for a
    /// command type the service does not know.
    ///
    /// - Throws: ``ExampleServiceError`` when the payload does not decode; what the batch
    ///   form throws otherwise.
    public func handle(
        _ command: ServiceCommand, on connection: isolated PostgresConnection, behaviour: ServiceBehaviour
    ) async throws -> (any SagaMessage)? {
        switch try await handle([command], on: connection, behaviour: behaviour).first {
        case .reply(let reply): reply
        case .unreadable(let error): throw error
        case .unknownType, nil: nil
        }
    }
}
