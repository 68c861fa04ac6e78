public import Foundation

/// What a run of the example system left behind, checked order by order.
public struct ConsistencyReport: Sendable {
    /// Sagas of the run found in the store.
    public var sagas = 0
    /// Sagas completed.
    public var completed = 0
    /// Sagas compensated.
    public var compensated = 0
    /// Sagas that need an operator.
    public var failed = 0
    /// Sagas not terminal yet.
    public var running = 0
    /// Sagas that saw a step time out (they may legitimately compensate instead of completing).
    public var timedOut = 0
    /// Saga latency from start to its last event, in milliseconds (50th and 99th percentile).
    public var latencyP50 = 0.0
    /// The 99th percentile.
    public var latencyP99 = 0.0
    /// When the last saga of the run ended (its row's `updated_at`, the orchestrator's clock).
    public var lastSagaEnd: Date?
    /// The expected completed and compensated counts.
    public var expected: (completed: Int, compensated: Int) = (0, 0)
    /// Broken invariants: ledgers that do not add up, orders with a net effect they should not have.
    public var problems: [String] = []
    /// Orders that ended other than their fate says (without a timeout to explain it).
    public var unexpected: [String] = []

    /// Creates an empty report.
    public init() {}

    /// Every ledger adds up and every order's effects match its saga's outcome.
    public var isConsistent: Bool { problems.isEmpty }

    /// Consistent, and the counts are exactly the expected ones.
    public var isExact: Bool {
        isConsistent && unexpected.isEmpty && completed == expected.completed && compensated == expected.compensated
    }
}
