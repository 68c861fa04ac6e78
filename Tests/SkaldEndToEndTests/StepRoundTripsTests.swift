import Foundation
import SkaldExamples
import Testing

/// The demo's split of a step's round trip into the command's leg and the reply's.
@Suite("Step round trips: medians of the whole way and of each leg")
struct StepRoundTripsTests {
    @Test("medians and the 99th percentile come from the samples' own moments, and no samples give no round trips")
    func medians() throws {
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        func at(_ milliseconds: Double) -> Date { start.addingTimeInterval(milliseconds / 1000) }
        // Round trips 10, 20, 30, 40 and 100 ms; command legs 2, 15, 5, 30, 1; reply legs 8, 5, 25, 10, 99.
        let samples = [(0.0, 2.0, 10.0), (100, 115, 120), (200, 205, 230), (300, 330, 340), (400, 401, 500)].map {
            StepRoundTrips.Sample(sent: at($0.0), handled: at($0.1), replied: at($0.2))
        }
        let roundTrips = try #require(StepRoundTrips(samples: samples.shuffled()))
        #expect(roundTrips.commands == 5)
        #expect(abs(roundTrips.roundTripP50 - 30) < 0.01)
        #expect(abs(roundTrips.roundTripP99 - 100) < 0.01)
        #expect(abs(roundTrips.commandLegP50 - 5) < 0.01)
        #expect(abs(roundTrips.replyLegP50 - 10) < 0.01)
        // The legs' medians belong to different commands: they need not add up to the round trip's.
        #expect(roundTrips.commandLegP50 + roundTrips.replyLegP50 != roundTrips.roundTripP50)
        #expect(roundTrips.summary.hasPrefix("p50 30.0 ms, p99 100.0 ms over 5 commands; p50 5.0 ms to the service's transaction, 10.0 ms"))
        #expect(StepRoundTrips(samples: []) == nil)
    }
}
