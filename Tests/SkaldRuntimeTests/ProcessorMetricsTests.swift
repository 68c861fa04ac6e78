import Foundation
import MetricsTestKit
import Skald
import SkaldPostgres
import SkaldRuntime
import SkaldTestSupport
import Testing

/// The saga metrics the orchestrator reports once a transaction commits: sagas started,
/// completed and compensated by type, and each step's command-to-reply time.
@Suite("Saga processor: saga and step metrics")
struct ProcessorMetricsTests {
    @Test("ten transfers, two declined: started, compensated, completed and step latencies as the engine's clock says")
    func milestonesReachTheMetrics() async throws {
        let url = try await TestPostgres.freshStore("metrics")
        var registry = SagaRegistry()
        try registry.register(transferSaga())
        let metrics = TestMetrics()
        let processor = SagaProcessor(registry: registry, metrics: OrchestratorMetrics(factory: metrics))
        let connection = try await PostgresConnection.connect(to: url)
        defer { Task { await connection.close() } }
        let start = Date(timeIntervalSince1970: 1_800_000_000)

        _ = try await processor.process(try TransferInputs.start(0..<10), on: connection, now: start)
        let debits = try (0..<8).map { try TransferInputs.debited($0) } + [try TransferInputs.debitDeclined(8), try TransferInputs.debitDeclined(9)]
        _ = try await processor.process(debits, on: connection, now: start.addingTimeInterval(2))
        _ = try await processor.process(try (0..<8).map { try TransferInputs.credited($0) }, on: connection, now: start.addingTimeInterval(5))
        _ = try await processor.process(try (0..<8).map { try TransferInputs.notified($0) }, on: connection, now: start.addingTimeInterval(5.5))

        let transfer = [("saga_type", "Transfer")]
        #expect(try metrics.expectCounter("skald_sagas_started_total", transfer).totalValue == 10)
        #expect(try metrics.expectCounter("skald_sagas_compensated_total", transfer).totalValue == 2)
        #expect(try metrics.expectCounter("skald_sagas_completed_total", transfer).totalValue == 8)
        func latencies(_ step: String) throws -> [Int64] {
            try metrics.expectTimer("skald_step_latency_seconds", transfer + [("step", step)]).values
        }
        #expect(try latencies("debit") == Array(repeating: 2_000_000_000, count: 10))
        #expect(try latencies("credit") == Array(repeating: 3_000_000_000, count: 8))
        #expect(try latencies("notify") == Array(repeating: 500_000_000, count: 8))
    }
}
