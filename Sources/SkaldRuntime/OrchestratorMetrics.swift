public import Metrics

/// The orchestrator's metrics, reported through swift-metrics (Prometheus in `skald serve`).
///
/// Names follow Prometheus conventions; saga metrics carry a `saga_type` dimension.
public struct OrchestratorMetrics: Sendable {
    /// Creates the metric handles; with no metrics backend bootstrapped they cost nothing.
    public init() {
        messagesConsumed = Counter(label: "skald_messages_consumed_total")
        inboxDuplicates = Counter(label: "skald_inbox_duplicates_total")
        deadLetters = Counter(label: "skald_dead_letters_total")
        batchSize = Recorder(label: "skald_pump_batch_size")
        batchDuration = Timer(label: "skald_pump_batch_duration_seconds")
        outboxPublished = Counter(label: "skald_outbox_published_total")
        outboxFailed = Counter(label: "skald_outbox_publish_failures_total")
        timersFired = Counter(label: "skald_timers_fired_total")
        transitions = Counter(label: "skald_saga_transitions_total")
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

    /// Counts a saga reaching `outcome` (`started`, `completed`, `compensated`, `failed_needs_operator`).
    public func saga(_ outcome: String, type: String) {
        Counter(label: "skald_sagas_\(outcome)_total", dimensions: [("saga_type", type)]).increment()
    }

    /// Records how long a step took from command to reply.
    public func stepLatency(type: String, step: String, nanoseconds: Int64) {
        Timer(label: "skald_step_latency_seconds", dimensions: [("saga_type", type), ("step", step)])
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
