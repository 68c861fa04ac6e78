import Foundation
import Skald
@testable import SkaldRuntime
import Testing

/// A saga's armed timers as its `sagas` row keeps them, and the rule for its `saga_wakeups` row.
@Suite struct PendingTimersTests {
    private static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    private static func at(_ seconds: Double) -> Date { t0.addingTimeInterval(seconds) }

    private static func arm(_ kind: TimerKind, _ seconds: Double) -> TimerRequest {
        TimerRequest(sagaId: "s", due: at(seconds), kind: kind)
    }

    @Test("a decision's cancellations go first, then its timers arm; a kind armed again takes the new time")
    func applyCancelsThenArms() {
        var timers = PendingTimers()
        timers.apply(cancelled: [], armed: [Self.arm(.deadline, 900), Self.arm(.stepTimeout(step: "a", attempt: 1), 30)])
        #expect(timers.earliestDue == Self.at(30))
        timers.apply(cancelled: [.stepTimeout(step: "a", attempt: 1)], armed: [Self.arm(.stepTimeout(step: "b", attempt: 1), 40)])
        #expect(timers.timers.map(\.kind) == [.deadline, .stepTimeout(step: "b", attempt: 1)])
        timers.apply(cancelled: [], armed: [Self.arm(.deadline, 20)])
        #expect(timers.timers.count == 2)
        #expect(timers.earliestDue == Self.at(20))
        // A kind cancelled and armed in one decision is armed afterwards (a retry of the same attempt).
        timers.apply(cancelled: [.deadline], armed: [Self.arm(.deadline, 50)])
        #expect(timers.timers.first { $0.kind == .deadline }?.due == Self.at(50))
        timers.remove(.stepTimeout(step: "b", attempt: 1))
        timers.remove(.stepTimeout(step: "never-armed", attempt: 1))
        #expect(timers.timers.map(\.kind) == [.deadline])
        timers.removeAll()
        #expect(timers.isEmpty && timers.earliestDue == nil && timers.text == nil)
    }

    @Test("due timers, and one put off")
    func dueAndPostponed() {
        var timers = PendingTimers()
        timers.apply(
            cancelled: [],
            armed: [Self.arm(.stepTimeout(step: "a", attempt: 2), 5), Self.arm(.stepRetry(step: "b", attempt: 3), 10), Self.arm(.deadline, 60)])
        #expect(timers.due(at: Self.at(10)).map(\.kind) == [.stepTimeout(step: "a", attempt: 2), .stepRetry(step: "b", attempt: 3)])
        timers.postpone(.stepTimeout(step: "a", attempt: 2), to: Self.at(11))
        #expect(timers.due(at: Self.at(10)).map(\.kind) == [.stepRetry(step: "b", attempt: 3)])
        #expect(timers.earliestDue == Self.at(10))
    }

    @Test("the column's text reads back as the same timers, every kind, to the microsecond")
    func textRoundTrips() throws {
        var timers = PendingTimers()
        timers.apply(
            cancelled: [],
            armed: [
                Self.arm(.stepTimeout(step: "reserve \"inventory\"", attempt: 1), 10.000001),
                Self.arm(.stepRetry(step: "pay/ment", attempt: 12), 0.5),
                Self.arm(.compensationTimeout(step: "é", attempt: 2), 3),
                Self.arm(.compensationRetry(step: "x", attempt: 4), 4),
                Self.arm(.deadline, 900),
            ])
        let text = try #require(timers.text)
        #expect(try PendingTimers(text: text) == timers)
        #expect(try PendingTimers(text: nil).isEmpty)
        #expect(try PendingTimers(text: "").isEmpty)
        #expect(try PendingTimers(text: "[]").isEmpty)
    }

    @Test("a column this version cannot read is an error that says so, not an empty set")
    func unreadableColumnIsAnError() {
        for text in ["{", #"[{"kind":"step-timeout","due":"2026-11-27T00:00:00.000000Z"}]"#, #"[{"kind":"nap","due":"2026-11-27T00:00:00Z"}]"#,
            #"[{"kind":"deadline","due":"tomorrow"}]"#]
        {
            #expect(throws: SagaError.self) { try PendingTimers(text: text) }
        }
    }

    @Test("the wake-up row: inserted for the first timer, moved only when the earliest comes before it, it came due or it is early and near, removed with the last")
    func wakeActions() {
        var none = PendingTimers()
        #expect(none.wakeAction(storedWake: nil, now: Self.t0) == .keep)
        #expect(none.wakeAction(storedWake: Self.at(5), now: Self.t0) == .remove)
        none.apply(cancelled: [], armed: [Self.arm(.stepTimeout(step: "a", attempt: 1), 30)])
        let armed = none
        #expect(armed.wakeAction(storedWake: nil, now: Self.t0) == .set(Self.at(30)))
        // Earlier than the timer: the row stays; the timer service will look early and move it.
        #expect(armed.wakeAction(storedWake: Self.at(10), now: Self.t0) == .keep)
        // Early and near (within the refresh horizon): moved on, so the saga stays off the
        // row locks' margin and the timer service does not look for nothing.
        let horizon = PendingTimers.wakeRefreshHorizon
        #expect(armed.wakeAction(storedWake: Self.at(10), now: Self.at(10 - horizon)) == .set(Self.at(30)))
        #expect(armed.wakeAction(storedWake: Self.at(10), now: Self.at(10 - horizon - 0.5)) == .keep)
        // Near but already the earliest timer: nothing to move.
        #expect(armed.wakeAction(storedWake: Self.at(30), now: Self.at(29)) == .keep)
        // Early and near, but the earliest timer is near too: moving would not leave the
        // horizon, so the row stays (short timeouts would move it at every transition).
        #expect(armed.wakeAction(storedWake: Self.at(27), now: Self.at(26)) == .keep)
        // Later than the timer: it would fire late, so the row moves.
        #expect(armed.wakeAction(storedWake: Self.at(40), now: Self.t0) == .set(Self.at(30)))
        // The row came due: whoever holds the saga moves it on.
        #expect(armed.wakeAction(storedWake: Self.at(10), now: Self.at(10)) == .set(Self.at(30)))
        #expect(horizon > SagaProcessor.wakeMargin, "a saga that moves in between is moved on before the margin")
        #expect(PendingTimers.WakeAction.keep.wake(after: Self.at(1)) == Self.at(1))
        #expect(PendingTimers.WakeAction.set(Self.at(2)).wake(after: Self.at(1)) == Self.at(2))
        #expect(PendingTimers.WakeAction.remove.wake(after: Self.at(1)) == nil)
    }

    @Test("random decisions: the set is what was armed and not cancelled or fired, and the wake-up is never after its earliest timer")
    func randomHistoriesKeepTheInvariants() throws {
        var random = SystemRandomNumberGenerator()
        let kinds: [TimerKind] = [
            .deadline, .stepTimeout(step: "a", attempt: 1), .stepTimeout(step: "a", attempt: 2), .stepRetry(step: "a", attempt: 2),
            .compensationTimeout(step: "b", attempt: 1), .compensationRetry(step: "b", attempt: 2), .stepTimeout(step: "c", attempt: 1),
        ]
        for _ in 0..<200 {
            var timers = PendingTimers()
            var model: [TimerKind: Date] = [:]
            var wake: Date?
            var now = Self.t0
            for _ in 0..<Int.random(in: 1...30, using: &random) {
                now = now.addingTimeInterval(Double(Int.random(in: 0...20, using: &random)))
                let cancelled = kinds.filter { _ in Int.random(in: 0..<4, using: &random) == 0 }
                let armed = kinds.filter { _ in Int.random(in: 0..<5, using: &random) == 0 }.map {
                    TimerRequest(sagaId: "s", due: now.addingTimeInterval(Double(Int.random(in: 1...60, using: &random))), kind: $0)
                }
                if Bool.random(using: &random), let fired = model.keys.randomElement(using: &random) {
                    timers.remove(fired)
                    model[fired] = nil
                }
                timers.apply(cancelled: cancelled, armed: armed)
                for kind in cancelled { model[kind] = nil }
                for request in armed { model[request.kind] = request.due }
                wake = timers.wakeAction(storedWake: wake, now: now).wake(after: wake)

                #expect(Dictionary(uniqueKeysWithValues: timers.timers.map { ($0.kind, $0.due) }) == model)
                #expect(Set(timers.timers.map(\.kind)).count == timers.timers.count, "a kind armed twice")
                if let earliest = model.values.min() {
                    let row = try #require(wake, "timers armed but no wake-up row")
                    #expect(row <= earliest, "the wake-up comes after a timer")
                    #expect(row > now || row == earliest, "a due wake-up left due")
                    let horizon = now.addingTimeInterval(PendingTimers.wakeRefreshHorizon)
                    if row <= horizon {
                        #expect(row == earliest || earliest <= horizon, "a near wake-up left early while the timers are far")
                    }
                } else {
                    #expect(wake == nil, "a wake-up row with no timer armed")
                }
                #expect(try PendingTimers(text: timers.text) == timers)
            }
        }
    }
}
