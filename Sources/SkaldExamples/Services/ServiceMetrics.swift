import Metrics

/// What an example service counts: commands by what became of them, and its transactions' time.
///
/// `skald_service_commands_total{service, outcome}`, with outcome `applied` (handled, in the
/// transaction that wrote its reply), `duplicate` (its id was in the inbox: a redelivery),
/// `unreadable` (no CloudEvents headers, or a payload the handler cannot read) or `rejected`
/// (the data refused it; recorded unanswered, the saga's timeout takes over); and
/// `skald_service_batch_duration_seconds{service}`.
struct ServiceMetrics: Sendable {
    let applied: Counter
    let duplicates: Counter
    let unreadable: Counter
    let rejected: Counter
    let batchDuration: Timer

    /// - Parameter factory: where they report: the bootstrapped backend, or a test's own.
    init(service: String, factory: any MetricsFactory = MetricsSystem.factory) {
        func commands(_ outcome: String) -> Counter {
            Counter(
                label: "skald_service_commands_total", dimensions: [("service", service), ("outcome", outcome)],
                factory: factory)
        }
        applied = commands("applied")
        duplicates = commands("duplicate")
        unreadable = commands("unreadable")
        rejected = commands("rejected")
        batchDuration = Timer(
            label: "skald_service_batch_duration_seconds", dimensions: [("service", service)], factory: factory)
    }
}
