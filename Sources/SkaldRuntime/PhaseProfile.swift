import Foundation
import Synchronization

/// Where the time of the hot loops goes, for finding bottlenecks: set `SKALD_PROFILE=1`
/// and every two seconds a table of phases (count, total and mean milliseconds, and the
/// mean of the recorded sizes) goes to standard error. Off, every call is one branch.
public final class PhaseProfile: Sendable {
    /// The process-wide profile, on when `SKALD_PROFILE` is set.
    public static let shared = PhaseProfile(enabled: ProcessInfo.processInfo.environment["SKALD_PROFILE"] != nil)

    /// Whether phases are recorded.
    public let enabled: Bool

    private struct Entry {
        var count = 0
        var nanoseconds: Int64 = 0
        var size = 0
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var lastReport = ContinuousClock.now
    }

    private let state = Mutex(State())

    init(enabled: Bool) {
        self.enabled = enabled
    }

    /// The clock reading a phase starts at (or nil when the profile is off).
    public func start() -> ContinuousClock.Instant? {
        enabled ? ContinuousClock.now : nil
    }

    /// Records the phase `name` that began at `started`, with an optional size (rows, messages).
    public func record(_ name: String, since started: ContinuousClock.Instant?, size: Int = 0) {
        guard let started else { return }
        let elapsed = ContinuousClock.now - started
        let nanoseconds = elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
        let report: String? = state.withLock { state in
            state.entries[name, default: Entry()].count += 1
            state.entries[name, default: Entry()].nanoseconds += nanoseconds
            state.entries[name, default: Entry()].size += size
            let now = ContinuousClock.now
            guard now - state.lastReport >= .seconds(2) else { return nil }
            state.lastReport = now
            var lines = ["phase                          count   total ms    mean ms   mean size"]
            for (key, entry) in state.entries.sorted(by: { $0.key < $1.key }) {
                let total = Double(entry.nanoseconds) / 1e6
                lines.append(
                    key.padding(toLength: 28, withPad: " ", startingAt: 0)
                        + String(format: " %7d %10.1f %10.3f %11.1f", entry.count, total, total / Double(entry.count),
                                 Double(entry.size) / Double(entry.count))
                )
            }
            state.entries.removeAll()
            return lines.joined(separator: "\n") + "\n"
        }
        if let report { FileHandle.standardError.write(Data(report.utf8)) }
    }
}
