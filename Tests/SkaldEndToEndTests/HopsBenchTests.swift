import Foundation
import Testing

@testable import SkaldCLI

/// `skald bench hops` relays every chain through all its legs, once, and times it.
@Suite("skald bench hops")
struct HopsBenchTests {
    @Test("every chain started arrives after its last leg, once, with a latency", .timeLimit(.minutes(2)))
    func everyChainArrives() async throws {
        let command = try HopsBenchCommand.parse(["--legs", "5", "--rate", "100", "--seconds", "1", "--relays", "3", "--partitions", "2", "--size", "64"])
        let result = try await command.measure { _ in }
        #expect(result.started == 100)
        // Chain 0, the warm-up, is left out; any other missing or extra chain fails here.
        #expect(result.latencies.count == 100)
        #expect(result.latencies.allSatisfy { $0 > 0 })
        #expect(result.percentile(0.5) <= result.percentile(0.99))
        #expect(result.cpu.kafkaMock > 0, "the in-process mock broker's thread was counted")
    }
}

/// The moments `skald bench hops` starts its chains at.
@Suite("skald bench hops: start moments")
struct HopsStartMomentsTests {
    @Test("evenly spaced chains start every 1/rate seconds")
    func even() throws {
        let moments = try HopsBenchCommand.parse(["--rate", "400"]).startMoments(count: 1_000)
        #expect(moments.count == 1_000)
        for (index, moment) in moments.enumerated() { #expect(abs(moment - Double(index) / 400) < 1e-12) }
    }

    @Test("random arrivals start at 0, never go back, average 1/rate apart, and are the same every run")
    func random() throws {
        let command = try HopsBenchCommand.parse(["--rate", "1000", "--random-arrivals"])
        let moments = command.startMoments(count: 20_000)
        #expect(moments.first == 0)
        #expect(zip(moments, moments.dropFirst()).allSatisfy { $0 <= $1 })
        let meanGap = moments.last! / Double(moments.count - 1)
        #expect(abs(meanGap - 0.001) < 0.0001, "mean gap \(meanGap) s")
        // Exponential gaps: about 1/e of them longer than the mean; even spacing would have none.
        let gaps = zip(moments, moments.dropFirst()).map { $1 - $0 }
        let longer = Double(gaps.filter { $0 > 0.001 }.count) / Double(gaps.count)
        #expect(abs(longer - exp(-1)) < 0.02, "share of gaps over the mean: \(longer)")
        #expect(command.startMoments(count: 20_000) == moments)
    }
}
