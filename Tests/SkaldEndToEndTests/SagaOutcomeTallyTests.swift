import Metrics
import MetricsTestKit
import SkaldRuntime
import Testing

@testable import SkaldCLI

/// The demo's progress comes from the orchestrator's milestone counters on their way to the
/// metrics backend: it must count them, and the backend must still get every metric.
@Suite("SagaOutcomeTally: the demo's progress from the orchestrator's counters")
struct SagaOutcomeTallyTests {
    @Test("counts starts and every kind of end, and forwards each metric to the backend unchanged")
    func countsAndForwards() throws {
        let backend = TestMetrics()
        let tally = SagaOutcomeTally(forwardingTo: backend)
        let metrics = OrchestratorMetrics(factory: tally)
        for _ in 0..<5 { metrics.saga("started", type: "PlaceOrder") }
        metrics.saga("started", type: "Transfer")
        metrics.saga("completed", type: "PlaceOrder")
        metrics.saga("completed", type: "PlaceOrder")
        metrics.saga("compensated", type: "PlaceOrder")
        metrics.saga("failed_needs_operator", type: "Transfer")
        metrics.transitions.increment(by: 40)
        metrics.stepLatency(type: "PlaceOrder", step: "reserve-inventory", nanoseconds: 2_000_000)

        #expect(tally.counts.started == 6)
        #expect(tally.counts.finished == 4)

        let placeOrder = [("saga_type", "PlaceOrder")]
        #expect(try backend.expectCounter("skald_sagas_started_total", placeOrder).totalValue == 5)
        #expect(try backend.expectCounter("skald_sagas_completed_total", placeOrder).totalValue == 2)
        #expect(try backend.expectCounter("skald_sagas_failed_needs_operator_total", [("saga_type", "Transfer")]).totalValue == 1)
        #expect(try backend.expectCounter("skald_saga_transitions_total").totalValue == 40)
        let latency = try backend.expectTimer("skald_step_latency_seconds", [("saga_type", "PlaceOrder"), ("step", "reserve-inventory")])
        #expect(latency.values == [2_000_000])
    }

    @Test("counts the pump's batches, by path and by why they took the locks, and forwards them")
    func countsPumpBatches() throws {
        let backend = TestMetrics()
        let tally = SagaOutcomeTally(forwardingTo: backend)
        let metrics = OrchestratorMetrics(factory: tally)
        metrics.optimisticBatches.increment(by: 7)
        let before = tally.pumpBatches
        metrics.optimisticBatches.increment(by: 5)
        for _ in 0..<3 { metrics.lockedBatch(reason: "uncached_saga") }
        metrics.lockedBatch(reason: "wake_up_near")

        #expect(tally.pumpBatches == PumpBatchCounts(oneRoundTrip: 12, locked: ["uncached_saga": 3, "wake_up_near": 1]))
        let run = tally.pumpBatches - before
        #expect(run == PumpBatchCounts(oneRoundTrip: 5, locked: ["uncached_saga": 3, "wake_up_near": 1]))
        #expect(run.summary == "9: 5 in one round trip, 4 under the row locks (uncached_saga 3, wake_up_near 1)")
        #expect((before - before).summary == "0, all in one round trip")
        #expect(PumpBatchCounts(oneRoundTrip: 262).summary == "262, all in one round trip")
        #expect(try backend.expectCounter("skald_pump_optimistic_batches_total").totalValue == 12)
        #expect(try backend.expectCounter("skald_pump_locked_batches_total", [("reason", "uncached_saga")]).totalValue == 3)
    }

    @Test("other counters, however large, leave the tally alone")
    func otherCountersDoNotCount() {
        let tally = SagaOutcomeTally(forwardingTo: TestMetrics())
        let metrics = OrchestratorMetrics(factory: tally)
        metrics.messagesConsumed.increment(by: 1_000)
        metrics.outboxPublished.increment(by: 1_000)
        metrics.saga("stuck", type: "PlaceOrder")
        #expect(tally.counts.started == 0)
        #expect(tally.counts.finished == 0)
    }
}
