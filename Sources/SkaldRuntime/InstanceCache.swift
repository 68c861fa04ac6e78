import Foundation
import HeapModule
import Skald
import Synchronization

/// Saga instances this process folded recently, so the next input for a saga does not
/// read and decode its whole history again.
///
/// The event log stays the truth: an entry is used under the row lock only when its
/// sequence equals the locked `last_sequence`, and without the lock only by an
/// optimistic transaction whose appends the log's primary key checks (see
/// ``SagaProcessor``). An instance another process moved on is simply folded again.
/// Entries are replaced only after their transaction commits.
///
/// When full, the cache forgets the saga of lowest *rank*, a per-process hash of its id,
/// rather than the least recently used one. In a burst with more sagas in flight than the
/// cache holds, each saga comes back once per step, round after round: recency would evict
/// every saga just before its next reply, while a fixed order keeps the same set cached
/// from start to end (measured in docs/benchmarks-e2e.md, session 5).
final class InstanceCache: Sendable {
    /// One cached saga: its instance and the trace context it started with.
    struct Entry: Sendable {
        /// The instance at its last committed sequence.
        var instance: AnySagaInstance
        /// The `traceparent` on the saga's row (the trace of every command it sends).
        var traceparent: String?
        /// The ownership epoch of the saga's outbox lane in which every command the saga
        /// sent so far was handed to this process's relay (``OutboxHandoff``); nil when
        /// any may have gone through the outbox alone, or was written elsewhere.
        var handoffEpoch: Int? = nil
        /// The saga's armed timers as its row holds them after that sequence. A timer service
        /// may change them without appending an event (a postponed timeout, a timer that found
        /// nothing to do, a wake-up moved later), but only once the wake-up came due, so the
        /// one-round-trip path trusts them only for sagas whose wake-up is further off
        /// (``SagaProcessor/wakeMargin``), and its snapshot update checks the wake-up it wrote.
        var timers = PendingTimers()
        /// When the saga's `saga_wakeups` row said to wake it; nil: it had none.
        var wakeAt: Date? = nil
    }

    /// A saga id in eviction order.
    struct Ranked: Comparable {
        var rank: Int
        var sagaId: String

        static func < (lhs: Ranked, rhs: Ranked) -> Bool {
            (lhs.rank, lhs.sagaId) < (rhs.rank, rhs.sagaId)
        }
    }

    /// An entry on the heap, so that the dictionary holds a reference per saga rather than
    /// the entry itself. A dictionary keeps at most three quarters of its buckets full and
    /// doubles its bucket count, and every bucket, empty or not, takes the value's full size:
    /// with 224-byte entries, 25,000 sagas took 16 MB of buckets, 100,000 sagas 63 MB
    /// (docs/benchmarks-orchestrator.md, session 14).
    private final class Boxed: Sendable {
        let entry: Entry

        init(_ entry: Entry) {
            self.entry = entry
        }
    }

    private struct Storage {
        var entries: [String: Boxed] = [:]
        /// Every cached id, plus ids dropped since the last compaction (skipped when popped).
        var order = Heap<Ranked>()
    }

    private let capacity: Int
    private let storage: Mutex<Storage>

    init(capacity: Int = 100_000) {
        self.capacity = max(0, capacity)
        self.storage = Mutex(Storage())
    }

    /// The eviction rank of `sagaId` in this process: lowest goes first.
    static func rank(of sagaId: String) -> Int {
        sagaId.hashValue
    }

    /// How many sagas are cached.
    var count: Int {
        storage.withLock { $0.entries.count }
    }

    /// The cached entry of `sagaId`, at whatever sequence it is.
    func entry(_ sagaId: String) -> Entry? {
        storage.withLock { $0.entries[sagaId]?.entry }
    }

    /// The cached instance of `sagaId`, at whatever sequence it is.
    func instance(_ sagaId: String) -> AnySagaInstance? {
        entry(sagaId)?.instance
    }

    /// Remembers instances after their transaction committed; final ones are dropped.
    func store(_ instances: some Sequence<(entry: Entry, isFinal: Bool)>) {
        guard capacity > 0 else { return }
        storage.withLock { storage in
            for (entry, isFinal) in instances {
                let sagaId = entry.instance.sagaId
                if isFinal {
                    // Its place in `order` goes stale and is skipped or compacted away.
                    storage.entries[sagaId] = nil
                    continue
                }
                // A saga cached already (five inputs in six) is replaced through its index: one hash.
                if let cached = storage.entries.index(forKey: sagaId) {
                    storage.entries.values[cached] = Boxed(entry)
                    continue
                }
                if storage.entries.count >= capacity { Self.evictLowest(&storage) }
                storage.order.insert(Ranked(rank: Self.rank(of: sagaId), sagaId: sagaId))
                storage.entries[sagaId] = Boxed(entry)
            }
            // Stale places (sagas that finished) are bounded by the live ones.
            if storage.order.count > 2 * storage.entries.count + 1_024 {
                storage.order = Heap(storage.entries.keys.map { Ranked(rank: Self.rank(of: $0), sagaId: $0) })
            }
        }
    }

    private static func evictLowest(_ storage: inout Storage) {
        while let lowest = storage.order.popMin() {
            if storage.entries.removeValue(forKey: lowest.sagaId) != nil { return }
        }
    }

    /// Forgets everything.
    ///
    /// A rebalance does not call it: an entry of a saga whose partition moved to another
    /// instance is only ever trusted to be behind, never ahead (the locked path compares its
    /// sequence, the one-round-trip path's appends meet the log's key, and a start it names
    /// is a duplicate either way), so at worst it costs one redone batch, and entries of
    /// sagas that stay here would be folded again for nothing.
    func removeAll() {
        storage.withLock { $0 = Storage() }
    }
}
