import Metrics
import Synchronization

/// Counts the sagas the orchestrator in this process starts and finishes, and how its pump
/// committed its batches, by sitting between its metrics and the backend they report to.
///
/// The demo used to learn its progress by counting the run's unfinished sagas in Postgres once
/// a second. Each count visits the index entries of every saga of the run, dead ones included
/// until vacuum, and near the end of a 20,000-saga burst it took 57 ms: 3.6 % of Postgres's
/// CPU in `skald bench e2e`, spent on watching rather than on sagas. The orchestrator already
/// counts its milestones for Prometheus; this reads them on the way, and the store is asked
/// only to confirm the end or when this process's counts stop moving (another orchestrator
/// may be finishing the sagas).
///
/// Every metric still reaches the backend unchanged.
final class SagaOutcomeTally: MetricsFactory {
    /// The backend every metric is forwarded to.
    private let backend: any MetricsFactory
    private let started = TallyCell()
    private let finished = TallyCell()
    private let oneRoundTrip = TallyCell()
    private let locked = Mutex<[String: TallyCell]>([:])

    /// The counter labels of `OrchestratorMetrics.saga(_:type:)` that end a saga.
    private static let finishingLabels: Set<String> = [
        "skald_sagas_completed_total", "skald_sagas_compensated_total", "skald_sagas_failed_needs_operator_total",
    ]
    private static let startingLabel = "skald_sagas_started_total"
    private static let oneRoundTripLabel = "skald_pump_optimistic_batches_total"
    private static let lockedLabel = "skald_pump_locked_batches_total"

    /// Creates a tally forwarding to `backend`.
    init(forwardingTo backend: any MetricsFactory) {
        self.backend = backend
    }

    /// Sagas started and sagas finished (completed, compensated or stopped for an operator)
    /// by this process's orchestrator so far, as its committed transactions record them.
    var counts: (started: Int, finished: Int) {
        (started.value.load(ordering: .relaxed), finished.value.load(ordering: .relaxed))
    }

    /// How the pump committed its batches so far (``PumpBatchCounts``).
    var pumpBatches: PumpBatchCounts {
        let locked = locked.withLock { cells in cells.mapValues { $0.value.load(ordering: .relaxed) } }
        return PumpBatchCounts(oneRoundTrip: oneRoundTrip.value.load(ordering: .relaxed), locked: locked)
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        let handler = backend.makeCounter(label: label, dimensions: dimensions)
        if label == Self.startingLabel { return TallyingCounter(backend: handler, tally: started) }
        if Self.finishingLabels.contains(label) { return TallyingCounter(backend: handler, tally: finished) }
        if label == Self.oneRoundTripLabel { return TallyingCounter(backend: handler, tally: oneRoundTrip) }
        if label == Self.lockedLabel {
            let reason = dimensions.first { $0.0 == "reason" }?.1 ?? "unknown"
            let cell = locked.withLock { cells in
                if let cell = cells[reason] { return cell }
                let cell = TallyCell()
                cells[reason] = cell
                return cell
            }
            return TallyingCounter(backend: handler, tally: cell)
        }
        return handler
    }

    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        backend.makeFloatingPointCounter(label: label, dimensions: dimensions)
    }

    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        backend.makeMeter(label: label, dimensions: dimensions)
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        backend.makeRecorder(label: label, dimensions: dimensions, aggregate: aggregate)
    }

    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        backend.makeTimer(label: label, dimensions: dimensions)
    }

    func destroyCounter(_ handler: any CounterHandler) {
        backend.destroyCounter((handler as? TallyingCounter)?.backend ?? handler)
    }

    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
        backend.destroyFloatingPointCounter(handler)
    }

    func destroyMeter(_ handler: any MeterHandler) {
        backend.destroyMeter(handler)
    }

    func destroyRecorder(_ handler: any RecorderHandler) {
        backend.destroyRecorder(handler)
    }

    func destroyTimer(_ handler: any TimerHandler) {
        backend.destroyTimer(handler)
    }
}

/// One of the tally's totals, shared by the counters that add to it.
private final class TallyCell: Sendable {
    let value = Atomic<Int>(0)
}

/// A counter that also adds to one of the tally's totals.
private final class TallyingCounter: CounterHandler {
    let backend: any CounterHandler
    private let tally: TallyCell

    init(backend: any CounterHandler, tally: TallyCell) {
        self.backend = backend
        self.tally = tally
    }

    func increment(by amount: Int64) {
        backend.increment(by: amount)
        tally.value.add(Int(amount), ordering: .relaxed)
    }

    func reset() {
        backend.reset()
    }
}
