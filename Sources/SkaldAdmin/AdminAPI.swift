public import SkaldRuntime

/// What the saga API under `/api/v1` works with: the orchestrator (to start sagas and take
/// operator actions through the same decide path as every message), its store's read side,
/// and who may call.
public struct AdminAPI: Sendable {
    /// Starts sagas and applies operator commands.
    public let orchestrator: Orchestrator
    /// Reads listings, sagas and timelines.
    public let queries: SagaQueries
    /// Who may call.
    public let access: AdminAccess
    /// How long a running or compensating saga must be quiet to count as stuck when a
    /// listing asks for `stuck=true` without `stuckAfter`.
    public let stuckAfter: Duration
    /// How long `GET /api/v1/stats` reuses its counts (every saga is counted for them).
    public let statsMaxAge: Duration
    /// Set by the server when it listens on a loopback address: requests must then name a
    /// loopback host, so a page served elsewhere cannot reach it by rebinding a DNS name.
    var loopbackOnly = false
    /// ``AdminConfiguration/allowedHosts``, lowercased, set by the server.
    var allowedHosts: Set<String> = []

    /// The API over `orchestrator`'s registry and store.
    public init(
        orchestrator: Orchestrator, access: AdminAccess = .open, stuckAfter: Duration = .seconds(300),
        statsMaxAge: Duration = .seconds(2)
    ) {
        self.orchestrator = orchestrator
        self.queries = SagaQueries(pool: orchestrator.pool)
        self.access = access
        self.stuckAfter = stuckAfter
        self.statsMaxAge = statsMaxAge
    }
}
