import Foundation
import Skald

/// The timers a saga has armed and that have neither fired nor been cancelled: its `sagas`
/// row keeps them (column `timers`), and one `saga_wakeups` row per saga says when the timer
/// service must look at it.
///
/// Each timer used to be a row of its own in `timers`, inserted when a command went out and
/// deleted when its reply came, milliseconds later: a heap tuple, two index entries and a
/// delete for every step. They were a fifth of Postgres's time in a burst; without them the
/// e2e benchmark ran a fifth faster (docs/benchmarks-e2e.md, session 27). The set now
/// travels with the snapshot the pump writes anyway, and the wake-up row only changes when the
/// saga's earliest timer comes earlier than it says, or when it is due or near while the timers
/// are not (see ``wakeAction(storedWake:now:)``): a saga that moves from step to step well
/// before its timeouts has its row inserted once, moved when a shorter timeout comes, and deleted once.
struct PendingTimers: Sendable, Hashable {
    /// One armed timer.
    struct Timer: Sendable, Hashable {
        /// What it is for.
        var kind: TimerKind
        /// When it is due.
        var due: Date
    }

    /// The timers, in the order they were armed.
    private(set) var timers: [Timer] = []

    /// No timers.
    init() {}

    /// The set a `sagas` row's `timers` column holds (nil or empty: none).
    ///
    /// - Throws: ``SagaError`` with code `undecodable` for a column this version cannot read.
    init(text: String?) throws {
        guard let text, !text.isEmpty else { return }
        let stored: [Stored]
        do {
            stored = try SkaldJSON.decode([Stored].self, from: Array(text.utf8))
        } catch {
            throw SagaError(.undecodable, "a saga's timers column cannot be read: \(error)")
        }
        timers.reserveCapacity(stored.count)
        for item in stored {
            guard let kind = TimerKind(name: item.kind, step: item.step, attempt: item.attempt),
                let due = Timestamp.parse(item.due)
            else {
                throw SagaError(.undecodable, "a saga's timers column names an unknown timer: \(item.kind) due \(item.due)")
            }
            timers.append(Timer(kind: kind, due: due))
        }
    }

    /// A timer as the column stores it.
    private struct Stored: Decodable {
        var kind: String
        var step: String?
        var attempt: Int?
        var due: String
    }

    /// Whether no timer is armed.
    var isEmpty: Bool { timers.isEmpty }

    /// When the earliest timer is due; nil when none is armed.
    var earliestDue: Date? { timers.lazy.map(\.due).min() }

    /// Applies a decision: drops the timers it cancelled, then arms the new ones (a timer of
    /// the same kind as an armed one replaces it, as an upsert by id did).
    mutating func apply(cancelled: [TimerKind], armed: [TimerRequest]) {
        if !cancelled.isEmpty {
            timers.removeAll { timer in cancelled.contains(timer.kind) }
        }
        for request in armed {
            if let index = timers.firstIndex(where: { $0.kind == request.kind }) {
                timers[index].due = request.due
            } else {
                timers.append(Timer(kind: request.kind, due: request.due))
            }
        }
    }

    /// Drops the timer of `kind`, if armed (it fired).
    mutating func remove(_ kind: TimerKind) {
        timers.removeAll { $0.kind == kind }
    }

    /// Drops every timer: a saga that ended has nothing left to wait for.
    mutating func removeAll() {
        timers.removeAll()
    }

    /// The timers due at `now`.
    func due(at now: Date) -> [Timer] {
        timers.filter { $0.due <= now }
    }

    /// Moves the timer of `kind` to `due`.
    mutating func postpone(_ kind: TimerKind, to due: Date) {
        for index in timers.indices where timers[index].kind == kind {
            timers[index].due = due
        }
    }

    /// The column's text; nil when no timer is armed.
    var text: String? {
        guard !timers.isEmpty else { return nil }
        var bytes: [UInt8] = []
        write(into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the column's JSON array to `buffer` (a column array's element, written in place).
    func write(into buffer: inout [UInt8]) {
        JSONRecords.write(into: &buffer) { records in
            for timer in timers {
                records.beginRecord()
                records.field("kind", timer.kind.name)
                if let step = timer.kind.step { records.field("step", step) }
                if let attempt = timer.kind.attempt { records.field("attempt", attempt) }
                records.field("due", time: timer.due)
                records.endRecord()
            }
        }
    }

    /// What the saga's `saga_wakeups` row needs after a change, given when it says to wake
    /// the saga now (`storedWake`, nil: there is no row).
    ///
    /// The row only has to be no later than the earliest timer: waking a saga early costs the
    /// timer service a look and a move, while moving the row at every step cost a write per
    /// transition. So it is moved when the earliest timer comes before it, or when it has come
    /// due (the timer service is looking at the saga, or is about to, and would find nothing).
    ///
    /// It is also moved on, to the earliest timer, when it is at most ``wakeRefreshHorizon``
    /// away while that timer is further: a PlaceOrder saga's row says the reserve step's 10 s
    /// timeout long after that step ended, and a saga still running near that moment (a burst
    /// that queued every step for seconds) would otherwise have its batches take the row locks
    /// (``SagaProcessor/wakeMargin``) and the timer service look at it for nothing. A saga
    /// whose earliest timer is itself that near keeps its row: moving it would not take it out
    /// of the horizon, and with short timeouts it would move at every transition.
    func wakeAction(storedWake: Date?, now: Date) -> WakeAction {
        guard let earliest = earliestDue else {
            return storedWake == nil ? .keep : .remove
        }
        guard let storedWake else { return .set(earliest) }
        if earliest < storedWake || storedWake <= now { return .set(earliest) }
        let horizon = now.addingTimeInterval(Self.wakeRefreshHorizon)
        if storedWake <= horizon, earliest > horizon { return .set(earliest) }
        return .keep
    }

    /// How close an early wake-up may come before a decision moves it on to the earliest
    /// timer (seconds); longer than ``SagaProcessor/wakeMargin``, so a saga that moves at
    /// least once in between never reaches the margin with a wake-up that has nothing to do.
    static let wakeRefreshHorizon: TimeInterval = 5

    /// A change to a saga's `saga_wakeups` row.
    enum WakeAction: Sendable, Hashable {
        /// The row stays as it is.
        case keep
        /// The row says `Date` (inserted if there is none).
        case set(Date)
        /// The row goes: no timer is armed.
        case remove

        /// When the row says to wake the saga after the change, given when it said before.
        func wake(after storedWake: Date?) -> Date? {
            switch self {
            case .keep: storedWake
            case .set(let date): date
            case .remove: nil
            }
        }
    }
}
