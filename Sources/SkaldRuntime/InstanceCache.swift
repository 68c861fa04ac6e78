import Skald
import Synchronization

/// Saga instances this process folded recently, so the next input for a saga does not
/// read and decode its whole history again.
///
/// The event log stays the truth: an entry is used only when its sequence equals the
/// `last_sequence` read under the row lock, so an instance another process moved on
/// is simply folded again. Entries are replaced only after their transaction commits.
final class InstanceCache: Sendable {
    private let capacity: Int
    private let entries: Mutex<[String: AnySagaInstance]>

    init(capacity: Int = 100_000) {
        self.capacity = max(0, capacity)
        self.entries = Mutex([:])
    }

    /// The cached instance of `sagaId` if it is exactly at `sequence`.
    func instance(_ sagaId: String, atSequence sequence: Int) -> AnySagaInstance? {
        entries.withLock { entries in
            guard let instance = entries[sagaId], instance.lastSequence == sequence else { return nil }
            return instance
        }
    }

    /// The cached instance of `sagaId`, at whatever sequence it is.
    func instance(_ sagaId: String) -> AnySagaInstance? {
        entries.withLock { $0[sagaId] }
    }

    /// Remembers instances after their transaction committed; final ones are dropped.
    func store(_ instances: some Sequence<(instance: AnySagaInstance, isFinal: Bool)>) {
        entries.withLock { entries in
            for (instance, isFinal) in instances {
                if isFinal {
                    entries[instance.sagaId] = nil
                } else {
                    if entries.count >= capacity, entries[instance.sagaId] == nil {
                        // Crude but bounded: forget an arbitrary entry; it is refolded if needed.
                        if let victim = entries.keys.first { entries[victim] = nil }
                    }
                    if capacity > 0 { entries[instance.sagaId] = instance }
                }
            }
        }
    }

    /// Forgets everything (after a rebalance took partitions away, for instance).
    func removeAll() {
        entries.withLock { $0.removeAll() }
    }
}
