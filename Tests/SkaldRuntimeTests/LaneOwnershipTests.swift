import Foundation
import Logging
@testable import SkaldRuntime
import SkaldTestSupport
import Testing

@Suite("Outbox lanes: relays of one store share them evenly, and take a leaver's over")
struct LaneOwnershipTests {
    @Test("two relays end with eight lanes each, disjoint; three with at most six; the last one left takes all")
    func evenShares() async throws {
        let url = try await TestPostgres.freshStore("lanes")
        let logger = Logger(label: "test.lanes")
        var first = LaneOwnership(postgresURL: url, logger: logger)
        var second = LaneOwnership(postgresURL: url, logger: logger)
        var third = LaneOwnership(postgresURL: url, logger: logger)
        defer {
            first.release()
            second.release()
            third.release()
        }
        await first.refresh()
        #expect(first.owned == Array(0..<16), "alone, a relay takes every lane")
        await second.refresh()
        #expect(second.owned.isEmpty, "none free yet")
        await first.refresh()
        #expect(first.owned.count == 8, "it gives back what is over its share")
        await second.refresh()
        #expect(second.owned.count == 8)
        #expect(Set(first.owned).isDisjoint(with: second.owned))

        await third.refresh()
        for _ in 0..<2 {
            await first.refresh()
            await second.refresh()
            await third.refresh()
        }
        let shares = [first.owned, second.owned, third.owned]
        #expect(shares.allSatisfy { $0.count <= 6 }, "\(shares)")
        #expect(Set(shares.joined()) == Set(0..<16), "every lane has a relay: \(shares)")
        #expect(shares.joined().count == 16, "no lane has two")

        // One stops (its session closes, its locks go with it): the others take its lanes.
        first.release()
        second.release()
        // `release` closes the sessions in the background: give the server a moment to drop them.
        for _ in 0..<50 where third.owned.count < 16 {
            try await Task.sleep(for: .milliseconds(100))
            await third.refresh()
        }
        #expect(third.owned == Array(0..<16))
    }

    @Test("another store's relays in the same database do not count as members or hold its lanes")
    func storesApart() async throws {
        let logger = Logger(label: "test.lanes")
        var mine = LaneOwnership(postgresURL: try await TestPostgres.freshStore("lanes"), logger: logger)
        var theirs = LaneOwnership(postgresURL: try await TestPostgres.freshStore("lanes"), logger: logger)
        defer {
            mine.release()
            theirs.release()
        }
        await theirs.refresh()
        await mine.refresh()
        #expect(mine.owned == Array(0..<16))
        #expect(theirs.owned == Array(0..<16))
    }

    @Test("shares: every lane is covered for any number of members")
    func shareArithmetic() {
        for members in 1...40 {
            let share = LaneOwnership.share(members: members)
            #expect(share >= 1)
            #expect(share * min(members, OutboxRelay.laneCount) >= OutboxRelay.laneCount)
        }
        #expect(LaneOwnership.share(members: 1) == 16)
        #expect(LaneOwnership.share(members: 3) == 6)
        #expect(LaneOwnership.share(members: 0) == 16)
    }
}
