import Metrics
public import Prometheus

/// The process's Prometheus registry, bootstrapped as the swift-metrics backend once.
///
/// `MetricsSystem.bootstrap` may run only once per process; every command that serves
/// `/metrics` asks for ``registry`` instead, before it creates anything that makes metrics
/// (handles made before the bootstrap report nowhere).
public enum PrometheusBootstrap {
    /// The registry every swift-metrics handle of this process reports to; the first use bootstraps it.
    public static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(factory(registry: registry))
        return registry
    }()

    /// Buckets for every duration histogram (pump transactions, step latencies): from half a
    /// millisecond, since a pump transaction at a low rate takes one or two, to a minute, past
    /// the step timeouts sagas usually set. swift-prometheus's defaults start at 5 ms, which
    /// put every batch of a quiet orchestrator into the first bucket.
    public static let durationBuckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
        .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .milliseconds(2_500), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
    ]

    /// The metrics factory over `registry`, with Skald's histogram buckets.
    public static func factory(registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = durationBuckets
        return factory
    }
}
