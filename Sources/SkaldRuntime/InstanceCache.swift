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
final class InstanceCache: Sendable {
    /// One cached saga: its instance and the trace context it started with.
    struct Entry: Sendable {
        /// The instance at its last committed sequence.
        var instance: AnySagaInstance
        /// The `traceparent` on the saga's row (the trace of every command it sends).
        var traceparent: String?
    }

    private let capacity: Int
    private let entries: Mutex<[String: Entry]>

    init(capacity: Int = 100_000) {
        self.capacity = max(0, capacity)
        self.entries = Mutex([:])
    }

    /// The cached entry of `sagaId`, at whatever sequence it is.
    func entry(_ sagaId: String) -> Entry? {
        entries.withLock { $0[sagaId] }
    }

    /// The cached instance of `sagaId`, at whatever sequence it is.
    func instance(_ sagaId: String) -> AnySagaInstance? {
        entry(sagaId)?.instance
    }

    /// Remembers instances after their transaction committed; final ones are dropped.
    func store(_ instances: some Sequence<(entry: Entry, isFinal: Bool)>) {
        entries.withLock { entries in
            for (entry, isFinal) in instances {
                let sagaId = entry.instance.sagaId
                if isFinal {
                    entries[sagaId] = nil
                } else {
                    if entries.count >= capacity, entries[sagaId] == nil {
                        // Crude but bounded: forget an arbitrary entry; it is refolded if needed.
                        if let victim = entries.keys.first { entries[victim] = nil }
                    }
                    if capacity > 0 { entries[sagaId] = entry }
                }
            }
        }
    }

    /// Forgets everything (after a rebalance took partitions away, for instance).
    func removeAll() {
        entries.withLock { $0.removeAll() }
    }
}
