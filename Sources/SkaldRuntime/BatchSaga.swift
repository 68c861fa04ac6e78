import Foundation
import Skald

/// What one batch knows of a saga it touches: its instance, its trace, how its commands
/// reached the relay, whether it has ended.
///
/// A batch keeps these in one table by saga id (`[String: BatchSaga]`), so each input
/// hashes its saga id once. Four tables, one per fact, hashed it about twenty times per
/// transition, a few percent of the orchestrator's CPU (docs/benchmarks-orchestrator.md,
/// session 21).
struct BatchSaga {
    /// The saga's current instance; nil for a saga the batch takes to be new (a start of a
    /// saga this process has not cached) until its first decision.
    var instance: AnySagaInstance?
    /// The `traceparent` on the saga's row, or the one a saga started here begins its trace with.
    var traceparent: String?
    /// The ownership epoch in which every command the saga sent so far was handed to this
    /// process's relay (``InstanceCache/Entry/handoffEpoch``); nil when any was not.
    var handoffEpoch: Int?
    /// Whether the saga has ended (completed, compensated or failed).
    var isFinished = false
    /// The saga's armed timers, as its row holds them.
    var timers = PendingTimers()
    /// When its `saga_wakeups` row says to wake it; nil: it has none.
    var wakeAt: Date?

    /// A saga as the instance cache holds it.
    init(cached entry: InstanceCache.Entry) {
        instance = entry.instance
        traceparent = entry.traceparent
        handoffEpoch = entry.handoffEpoch
        timers = entry.timers
        wakeAt = entry.wakeAt
    }

    /// A saga the batch knows nothing of yet, or only some facts of.
    init(
        instance: AnySagaInstance? = nil, traceparent: String? = nil, handoffEpoch: Int? = nil, isFinished: Bool = false,
        timers: PendingTimers = PendingTimers(), wakeAt: Date? = nil
    ) {
        self.instance = instance
        self.traceparent = traceparent
        self.handoffEpoch = handoffEpoch
        self.isFinished = isFinished
        self.timers = timers
        self.wakeAt = wakeAt
    }

    /// The cache entry of a saga whose instance the batch committed.
    var cacheEntry: (entry: InstanceCache.Entry, isFinal: Bool)? {
        instance.map {
            (
                InstanceCache.Entry(
                    instance: $0, traceparent: traceparent, handoffEpoch: handoffEpoch, timers: timers, wakeAt: wakeAt),
                isFinished
            )
        }
    }
}
