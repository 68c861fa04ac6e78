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
