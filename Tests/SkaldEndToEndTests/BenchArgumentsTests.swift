import Testing

@testable import SkaldCLI

/// `skald bench orchestrator` refuses options its pgbench ceiling cannot run with, before the run.
@Suite("skald bench orchestrator: arguments")
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
}
