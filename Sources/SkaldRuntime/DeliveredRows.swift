/// Outbox rows Kafka has taken and the relay has not deleted yet, as a value.
///
/// Deleting every round's rows in a transaction of their own made that delete nearly half of
/// all the transactions Postgres committed at a moderate rate (docs/benchmarks-e2e.md, session
/// 24): a round then carries a few rows, and each paid a round trip, a commit and the thread
/// hand-offs around them. The relay therefore lets delivered rows gather and deletes them
/// together: when the oldest has waited ``OutboxRelay`` `forgetDelay`, when they fill a round,
/// before it reads the outbox (so a read never finds them and publishes them again), before
/// its lanes can change hands, and when it stops.
///
/// A row published and not yet deleted is what a crash between the two always left: the next
/// relay publishes it again and consumers drop the copy by its message id. Waiting only
/// widens that window, by at most the delay.
///
/// No I/O and no clock: the relay passes the time in.
struct DeliveredRows {
    /// The rows' ids, oldest first.
    private(set) var ids: [Int64] = []
    /// When the oldest of them was delivered; nil when there are none.
    private(set) var oldestAt: ContinuousClock.Instant?

    /// Adds rows delivered at `now`.
    mutating func add(_ delivered: [Int64], at now: ContinuousClock.Instant) {
        guard !delivered.isEmpty else { return }
        if ids.isEmpty { oldestAt = now }
        ids += delivered
    }

    /// Whether they should be deleted now: the oldest has waited `delay`, or there are `limit` or more.
    func isDue(at now: ContinuousClock.Instant, delay: Duration, limit: Int) -> Bool {
        guard let oldestAt else { return false }
        return ids.count >= limit || now - oldestAt >= delay
    }

    /// When they fall due by age; nil when there are none.
    func dueAt(delay: Duration) -> ContinuousClock.Instant? {
        oldestAt.map { $0.advanced(by: delay) }
    }

    /// Takes every id out, to delete, with when the oldest was delivered (for ``putBack(_:deliveredAt:)``).
    mutating func take() -> (ids: [Int64], oldestAt: ContinuousClock.Instant?) {
        defer {
            ids = []
            oldestAt = nil
        }
        return (ids, oldestAt)
    }

    /// Puts back ids whose delete failed, ahead of any added since; `at` is when the oldest of
    /// them was delivered, so they stay as due as they were.
    mutating func putBack(_ failed: [Int64], deliveredAt at: ContinuousClock.Instant?) {
        guard !failed.isEmpty else { return }
        ids = failed + ids
        if let at { oldestAt = min(oldestAt ?? at, at) }
    }
}
