/// How the orchestrator's pump committed its batches: in one round trip without row locks, or
/// under the row locks, by why (`skald_pump_locked_batches_total{reason}`).
///
/// A batch goes under the locks whole when a single one of its inputs cannot take the short
/// path, and costs a second round trip and a lock per saga, so a run's summary says how many did.
struct PumpBatchCounts: Sendable, Equatable {
    /// Batches committed in one round trip.
    var oneRoundTrip = 0
    /// Batches that took the row locks, by reason.
    var locked: [String: Int] = [:]

    /// All batches counted.
    var total: Int { oneRoundTrip + locked.values.reduce(0, +) }

    /// What happened between `earlier` and these counts.
    static func - (later: PumpBatchCounts, earlier: PumpBatchCounts) -> PumpBatchCounts {
        var locked: [String: Int] = [:]
        for (reason, count) in later.locked {
            let difference = count - (earlier.locked[reason] ?? 0)
            if difference > 0 { locked[reason] = difference }
        }
        return PumpBatchCounts(oneRoundTrip: later.oneRoundTrip - earlier.oneRoundTrip, locked: locked)
    }

    /// The summary's line: `262, all in one round trip`, or `509: 160 in one round trip, 349
    /// under the row locks (uncached_saga 320, wake_up_near 29)`, reasons most frequent first.
    var summary: String {
        let lockedTotal = locked.values.reduce(0, +)
        if lockedTotal == 0 { return "\(oneRoundTrip), all in one round trip" }
        let reasons = locked.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .map { "\($0.key) \($0.value)" }
            .joined(separator: ", ")
        return "\(total): \(oneRoundTrip) in one round trip, \(lockedTotal) under the row locks (\(reasons))"
    }
}
