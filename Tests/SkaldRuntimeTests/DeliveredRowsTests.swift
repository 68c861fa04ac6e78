@testable import SkaldRuntime
import Testing

@Suite("DeliveredRows: delivered outbox rows wait to be deleted together")
struct DeliveredRowsTests {
    let start = ContinuousClock.now

    @Test("nothing is due while nothing waits")
    func empty() {
        let rows = DeliveredRows()
        #expect(!rows.isDue(at: start.advanced(by: .seconds(60)), delay: .zero, limit: 1))
        #expect(rows.dueAt(delay: .seconds(1)) == nil)
    }

    @Test("due once the oldest has waited the delay, counted from the first add")
    func dueByAge() {
        var rows = DeliveredRows()
        rows.add([1, 2], at: start)
        rows.add([3], at: start.advanced(by: .milliseconds(80)))
        #expect(rows.dueAt(delay: .milliseconds(100)) == start.advanced(by: .milliseconds(100)))
        #expect(!rows.isDue(at: start.advanced(by: .milliseconds(99)), delay: .milliseconds(100), limit: 10))
        #expect(rows.isDue(at: start.advanced(by: .milliseconds(100)), delay: .milliseconds(100), limit: 10))
        #expect(rows.isDue(at: start, delay: .zero, limit: 10), "no delay: due at once")
    }

    @Test("due at once when they fill a round")
    func dueByCount() {
        var rows = DeliveredRows()
        rows.add(Array(1...9), at: start)
        #expect(!rows.isDue(at: start, delay: .seconds(1), limit: 10))
        rows.add([10], at: start)
        #expect(rows.isDue(at: start, delay: .seconds(1), limit: 10))
    }

    @Test("an empty add changes nothing; take empties; a failed delete's ids go back first, as old as they were")
    func takeAndPutBack() {
        var rows = DeliveredRows()
        rows.add([], at: start)
        #expect(rows.oldestAt == nil)
        rows.add([1, 2], at: start)
        let taken = rows.take()
        #expect(taken.ids == [1, 2] && taken.oldestAt == start)
        #expect(rows.ids.isEmpty && rows.oldestAt == nil)
        let later = start.advanced(by: .seconds(5))
        rows.add([3], at: later)
        rows.putBack(taken.ids, deliveredAt: taken.oldestAt)
        #expect(rows.ids == [1, 2, 3])
        #expect(rows.oldestAt == start)
        rows.putBack([], deliveredAt: nil)
        #expect(rows.ids == [1, 2, 3])
    }
}
