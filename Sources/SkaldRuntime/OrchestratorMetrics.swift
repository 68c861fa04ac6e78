public import Metrics
import Skald

/// The orchestrator's metrics, reported through swift-metrics (Prometheus in `skald serve`).
///
/// Names follow Prometheus conventions; saga metrics carry a `saga_type` dimension.
public struct OrchestratorMetrics: Sendable {
    /// The backend the handles report to.
    private let factory: any MetricsFactory

    /// Creates the metric handles; with no metrics backend bootstrapped they cost nothing.
    ///
    /// - Parameter factory: where they report: the bootstrapped backend, or a test's own.
    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
        messagesConsumed = Counter(label: "skald_messages_consumed_total", factory: factory)
        inboxDuplicates = Counter(label: "skald_inbox_duplicates_total", factory: factory)
        deadLetters = Counter(label: "skald_dead_letters_total", factory: factory)
        batchSize = Recorder(label: "skald_pump_batch_size", factory: factory)
        batchDuration = Timer(label: "skald_pump_batch_duration_seconds", factory: factory)
        outboxPublished = Counter(label: "skald_outbox_published_total", factory: factory)
        outboxFailed = Counter(label: "skald_outbox_publish_failures_total", factory: factory)
        timersFired = Counter(label: "skald_timers_fired_total", factory: factory)
        transitions = Counter(label: "skald_saga_transitions_total", factory: factory)
        optimisticBatches = Counter(label: "skald_pump_optimistic_batches_total", factory: factory)
        optimisticConflicts = Counter(label: "skald_pump_optimistic_conflicts_total", factory: factory)
        outboxPendingRows = Gauge(label: "skald_outbox_pending_rows", factory: factory)
        outboxLag = Gauge(label: "skald_outbox_lag_seconds", factory: factory)
    }

    /// Messages taken from Kafka by the pump.
    public let messagesConsumed: Counter
    /// Messages skipped because the inbox had seen their id.
    public let inboxDuplicates: Counter
    /// Messages sent to the dead-letter topic.
    public let deadLetters: Counter
    /// Messages per pump transaction.
    public let batchSize: Recorder
    /// Time of one pump transaction.
    public let batchDuration: Timer
    /// Outbox rows published and deleted.
    public let outboxPublished: Counter
    /// Outbox rows whose delivery failed (they are retried).
    public let outboxFailed: Counter
    /// Durable timers fired.
    public let timersFired: Counter
    /// Inputs applied to sagas (each a `decide` plus its events).
    public let transitions: Counter
    /// Batches committed in one round trip without row locks (cached sagas, and starts).
    public let optimisticBatches: Counter
    /// One-round-trip attempts that conflicted (a saga moved on elsewhere, a start of a saga
    /// that exists, a message seen before) and were redone under the row locks.
    public let optimisticConflicts: Counter

    /// Commands in the outbox not yet published (read at each scrape).
    public let outboxPendingRows: Gauge
    /// How long the oldest command in the outbox has waited to be published, in seconds;
    /// 0 when the outbox is empty (read at each scrape).
    public let outboxLag: Gauge

    /// Counts an attempt at a batch that took the row locks (two round trips) because the
    /// one-round-trip path could not take it, by `reason` (`uncached_saga`, `correlated_input`,
    /// `wake_up_near`, `unregistered_definition`, `no_events`, `refused_input`, `conflict`). A
    /// steady `uncached_saga` means the instance cache is too small for the sagas in flight.
    public func lockedBatch(reason: String) {
        Counter(label: "skald_pump_locked_batches_total", dimensions: [("reason", reason)], factory: factory).increment()
    }

    /// Sets the consumer lag of `topic`: messages after the last one the pump finished (its
    /// offset stored after the Postgres commit; Kafka's auto-commit follows within a second),
    /// over this process's partitions of it (read at each scrape).
    public func consumerLag(topic: String, messages: Int64) {
        Gauge(label: "skald_consumer_lag_messages", dimensions: [("topic", topic)], factory: factory).record(messages)
    }

    /// Sets how many sagas of `type` are stuck: waiting for an operator, or running or
    /// compensating with no event for ``OrchestratorConfiguration/stuckAfter``; and how many of
    /// those wait for an operator. Store-wide, so every instance reports the same (read at each
    /// scrape; alert on the `max` over instances).
    public func stuckSagas(type: String, stuck: Int, waitingForOperator: Int) {
        Gauge(label: "skald_sagas_stuck", dimensions: [("saga_type", type)], factory: factory).record(stuck)
        Gauge(label: "skald_sagas_waiting_for_operator", dimensions: [("saga_type", type)], factory: factory).record(waitingForOperator)
    }

    /// Counts a saga reaching `outcome` (`started`, `completed`, `compensated`, `failed_needs_operator`).
    public func saga(_ outcome: String, type: String) {
        Counter(label: "skald_sagas_\(outcome)_total", dimensions: [("saga_type", type)], factory: factory).increment()
    }

    /// Counts and times the milestones of committed decisions: sagas started, completed,
    /// compensated and stopped for an operator, and each step's command-to-reply time.
    func record(_ milestones: [(sagaType: String, milestone: SagaMilestone)]) {
        for (sagaType, milestone) in milestones {
            switch milestone {
            case .started: saga("started", type: sagaType)
            case .completed: saga("completed", type: sagaType)
            case .compensated: saga("compensated", type: sagaType)
            case .failedNeedsOperator: saga("failed_needs_operator", type: sagaType)
            case .stepAnswered(let step, let seconds):
                stepLatency(type: sagaType, step: step, nanoseconds: Int64((max(0, seconds) * 1e9).rounded()))
            }
        }
    }

    /// Records how long a step took from command to reply.
    public func stepLatency(type: String, step: String, nanoseconds: Int64) {
        Timer(label: "skald_step_latency_seconds", dimensions: [("saga_type", type), ("step", step)], factory: factory)
            .recordNanoseconds(nanoseconds)
    }
}

/// The relay's view of the metrics.
struct RelayCounters: Sendable {
    let metrics: OrchestratorMetrics

    func published(_ delivered: Int, failed: Int) {
        if delivered > 0 { metrics.outboxPublished.increment(by: delivered) }
        if failed > 0 { metrics.outboxFailed.increment(by: failed) }
    }
}
