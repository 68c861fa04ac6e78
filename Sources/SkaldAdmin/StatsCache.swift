import Synchronization

/// The saga counts of `GET /api/v1/stats`, shared by the callers of a short while.
///
/// Counting every saga by type and status reads the whole `sagas` table. Every open dashboard
/// asks every five seconds; with the answer reused for ``maxAge`` and one count at a time,
/// the store counts at most once per ``maxAge`` however many people look.
final class StatsCache: Sendable {
    /// How long an answer is reused.
    let maxAge: Duration

    private struct State {
        var last: (value: StatsResponse, at: ContinuousClock.Instant)?
        var running: Task<StatsResponse, any Error>?
    }

    private let state = Mutex(State())

    init(maxAge: Duration) {
        self.maxAge = maxAge
    }

    /// The last answer if it is young enough, else the count in progress, else a new one.
    func value(_ count: @escaping @Sendable () async throws -> StatsResponse) async throws -> StatsResponse {
        let task = state.withLock { state -> Task<StatsResponse, any Error> in
            if let last = state.last, ContinuousClock.now - last.at < maxAge {
                let value = last.value
                return Task { value }
            }
            if let running = state.running { return running }
            // Created under the lock: its own bookkeeping below waits for this assignment.
            let task = Task {
                defer { self.state.withLock { $0.running = nil } }
                let value = try await count()
                self.state.withLock { $0.last = (value, .now) }
                return value
            }
            state.running = task
            return task
        }
        return try await task.value
    }
}
