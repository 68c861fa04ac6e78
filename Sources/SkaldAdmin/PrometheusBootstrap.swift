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
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }()
}
