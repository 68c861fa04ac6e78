import Testing

@testable import SkaldCLI

/// `skald bench` refuses options it cannot run with, before the run.
@Suite("skald bench: arguments")
struct BenchArgumentsTests {
    @Test("a batch too small for the ceiling's script is refused up front, and accepted without the ceiling")
    func batchTooSmallForTheCeiling() throws {
        let error = #expect(throws: (any Error).self) {
            _ = try OrchestratorBenchCommand.parse(["--batch-size", "3"])
        }
        let message = error.map { OrchestratorBenchCommand.message(for: $0) } ?? ""
        #expect(message.contains("--batch-size 6 or more"), "\(message)")
        let parsed = try OrchestratorBenchCommand.parse(["--batch-size", "3", "--pgbench-seconds", "0"])
        #expect(parsed.batchSize == 3)
        #expect(try OrchestratorBenchCommand.parse(["--batch-size", "6"]).batchSize == 6)
    }

    @Test("e2e takes an instance cache size for its orchestrator and refuses a negative one")
    func e2eInstanceCache() throws {
        #expect(try E2EBenchCommand.parse(["--instance-cache", "25000"]).instanceCache == 25_000)
        #expect(try E2EBenchCommand.parse([]).instanceCache == nil)
        let error = #expect(throws: (any Error).self) { _ = try E2EBenchCommand.parse(["--instance-cache=-1"]) }
        let message = error.map { E2EBenchCommand.message(for: $0) } ?? ""
        #expect(message.contains("--instance-cache must not be negative"), "\(message)")
    }

    @Test("e2e runs 8 partitions a topic, 32 with projections (the mock keeps 5 MiB each), what --partitions says otherwise, and refuses 0")
    func e2ePartitions() throws {
        #expect(try E2EBenchCommand.parse([]).topicPartitions == 8)
        #expect(try E2EBenchCommand.parse(["--projections"]).topicPartitions == 32)
        #expect(try E2EBenchCommand.parse(["--partitions", "16"]).topicPartitions == 16)
        #expect(try E2EBenchCommand.parse(["--projections", "--partitions", "4"]).topicPartitions == 4)
        let error = #expect(throws: (any Error).self) { _ = try E2EBenchCommand.parse(["--partitions", "0"]) }
        let message = error.map { E2EBenchCommand.message(for: $0) } ?? ""
        #expect(message.contains("--partitions must be positive"), "\(message)")
    }

    @Test("hops refuses no legs, more legs than a message counts, and messages too small for a chain's fields")
    func hopsArguments() throws {
        let parsed = try HopsBenchCommand.parse([])
        #expect(parsed.legs == 10 && parsed.rate == 1_000 && parsed.size == 512)
        for (arguments, expected) in [
            (["--legs", "0"], "--legs, --rate, --seconds, --relays and --partitions must be positive"),
            (["--rate", "0"], "--legs, --rate, --seconds, --relays and --partitions must be positive"),
            (["--legs", "256"], "--legs must be at most 255"),
            (["--size", "12"], "--size must be at least 13"),
        ] {
            let error = #expect(throws: (any Error).self) { _ = try HopsBenchCommand.parse(arguments) }
            let message = error.map { HopsBenchCommand.message(for: $0) } ?? ""
            #expect(message.contains(expected), "\(arguments): \(message)")
        }
    }
}
