import Foundation
public import Skald
public import SkaldPostgres

/// A read model built from saga events: tables in the orchestrator's Postgres database that a
/// ``ProjectionRunner`` keeps up to date, exactly once per event, in each saga's order.
///
/// A projection says what each event changes as SQL statements; it does no I/O of its own.
/// The runner pipelines the statements of a whole batch into the transaction that records how
/// far each saga has been applied, so the read model and its positions commit together.
///
/// ```swift
/// struct OrdersByStatus: SagaProjection {
///     let name = "orders-by-status"
///     let sagaTypes = ["PlaceOrder"]
///     let setUp: [PostgresQuery] = ["CREATE TABLE IF NOT EXISTS orders_by_status (…)"]
///     let reset: [PostgresQuery] = ["DELETE FROM orders_by_status"]
///     func statements(for event: ProjectedEvent) throws -> [PostgresQuery] {
///         switch event.event.kind {
///         case .completed:
///             return ["UPDATE orders_by_status SET status = 'completed' WHERE saga_id = \(event.sagaId)"]
///         default:
///             return []
///         }
///     }
/// }
/// ```
///
/// Statements must be deterministic in the event alone (no `now()`, no random ids): a rebuild
/// applies the same events again and must build the same tables.
public protocol SagaProjection: Sendable {
    /// A stable name: lowercase letters, digits, `-`, `_` and `.`; it keys the positions, the
    /// consumer group (`skald-projection-<name>`) and the admin API's `/projections/{name}`.
    var name: String { get }
    /// The saga types whose events it reads; empty means every type.
    var sagaTypes: [String] { get }
    /// Creates the read model's tables and indexes if they are missing (`CREATE … IF NOT
    /// EXISTS`), run once when a runner starts and before a rebuild.
    var setUp: [PostgresQuery] { get }
    /// Empties the read model, run at the start of a rebuild in the rebuild's transaction.
    /// Prefer `DELETE` to `TRUNCATE`, which would lock readers out until the rebuild commits.
    var reset: [PostgresQuery] { get }
    /// What `event` changes in the read model.
    ///
    /// - Throws: when the event cannot be applied (a payload of an unexpected shape). The
    ///   batch rolls back and the runner retries it with backoff, reporting the error in
    ///   ``ProjectionStatus`` and the metrics: a projection never skips an event.
    func statements(for event: ProjectedEvent) throws -> [PostgresQuery]

    /// What `events` change: the new events of one saga in a batch, consecutive, in sequence
    /// order. A rebuild or a catch-up gives a saga's whole log at once.
    ///
    /// The default applies ``statements(for:)`` to each event in turn. A projection that keeps
    /// one row per saga can fold the events into fewer writes (the example `order-board` writes
    /// a saga whose events start at its start with one `INSERT`); the result must be what the
    /// events one by one would give.
    func statements(forEventsOf events: [ProjectedEvent]) throws -> [PostgresQuery]
}

extension SagaProjection {
    /// Each event's ``statements(for:)``, in order.
    public func statements(forEventsOf events: [ProjectedEvent]) throws -> [PostgresQuery] {
        var statements: [PostgresQuery] = []
        for event in events {
            do {
                statements += try self.statements(for: event)
            } catch {
                throw ProjectedEventFailure(event: event, underlying: error)
            }
        }
        return statements
    }

    /// Whether this projection reads events of sagas of type `sagaType`.
    public func reads(sagaType: String) -> Bool {
        sagaTypes.isEmpty || sagaTypes.contains(sagaType)
    }
}

/// One saga event as a projection sees it: the fact, and the saga it belongs to.
public struct ProjectedEvent: Sendable {
    /// The saga's id.
    public var sagaId: String
    /// Its type.
    public var sagaType: String
    /// The version of the definition that recorded its log.
    public var definitionVersion: Int
    /// Its business key, if it has one.
    public var businessKey: String?
    /// The fact; payloads are typed when this process registers the saga's definition, and
    /// ``JSONValue``s otherwise (``Payload/decode(_:)`` converts either way).
    public var event: SagaEvent
    /// The event's stable type name, e.g. `saga.completed`.
    public var eventType: String { event.kind.typeName }

    /// Creates a projected event.
    public init(sagaId: String, sagaType: String, definitionVersion: Int, businessKey: String?, event: SagaEvent) {
        self.sagaId = sagaId
        self.sagaType = sagaType
        self.definitionVersion = definitionVersion
        self.businessKey = businessKey
        self.event = event
    }
}

/// Projection names must be usable in a URL path, a Kafka group id and a log line as they are.
enum ProjectionName {
    static func validate(_ name: String) throws {
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-_.")
        guard !name.isEmpty, name.count <= 100, name.allSatisfy({ allowed.contains($0) }) else {
            throw SagaRuntimeError(
                "projection name '\(name)' is not valid: use 1 to 100 lowercase letters, digits, '-', '_' or '.'")
        }
    }

    static func validate(_ projections: [any SagaProjection]) throws {
        var seen: Set<String> = []
        for projection in projections {
            try validate(projection.name)
            guard seen.insert(projection.name).inserted else {
                throw SagaRuntimeError("two projections are named '\(projection.name)'")
            }
        }
    }
}

/// An event ``SagaProjection/statements(for:)`` refused, as the default
/// ``SagaProjection/statements(forEventsOf:)`` reports it: the runner's error then names the event.
struct ProjectedEventFailure: Error {
    let event: ProjectedEvent
    let underlying: any Error
}
