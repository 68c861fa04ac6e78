public import Hummingbird
public import Logging
public import Prometheus
public import ServiceLifecycle

/// The admin HTTP server (DESIGN.md, "Admin HTTP"): `/health`, `/ready` and `/metrics`, and
/// with an ``AdminAPI`` the saga API under `/api/v1` and the dashboard at `/`.
///
/// A swift-service-lifecycle `Service`: it runs in the same `ServiceGroup` as the
/// orchestrator and stops with it on SIGTERM.
///
/// ```swift
/// let server = AdminServer(
///     registry: PrometheusBootstrap.registry, checks: ReadinessCheck.orchestrator(orchestrator))
/// let group = ServiceGroup(services: [orchestrator, server], gracefulShutdownSignals: [.sigterm], logger: logger)
/// ```
public struct AdminServer: Service {
    /// Where it listens.
    public let configuration: AdminConfiguration
    /// The metrics `/metrics` serves.
    public let registry: PrometheusCollectorRegistry
    /// What `/ready` asks.
    public let checks: [ReadinessCheck]
    /// The saga API under `/api/v1` and the dashboard at `/`; nil serves only the
    /// operational endpoints.
    public let api: AdminAPI?
    /// Runs before each `/metrics` answer, to read levels into gauges (consumer and outbox lag).
    let beforeScrape: @Sendable () async -> Void
    let logger: Logger
    let onListening: @Sendable (Int) async -> Void

    /// Creates the server; nothing listens until ``run()``.
    ///
    /// - Parameters:
    ///   - beforeScrape: runs before each `/metrics` answer, bounded by the readiness timeout
    ///     (``Orchestrator/sampleLag()``, so the lag gauges are as fresh as the scrape).
    ///   - onListening: called with the bound port once the server listens.
    public init(
        configuration: AdminConfiguration = AdminConfiguration(),
        registry: PrometheusCollectorRegistry,
        checks: [ReadinessCheck],
        api: AdminAPI? = nil,
        beforeScrape: @escaping @Sendable () async -> Void = {},
        logger: Logger = Logger(label: "skald.admin"),
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.registry = registry
        self.checks = checks
        self.api = api
        self.beforeScrape = beforeScrape
        self.logger = logger
        self.onListening = onListening
    }

    /// The Hummingbird application behind the server (tests drive it without a socket).
    public func application() -> some ApplicationProtocol {
        let logger = logger
        let onListening = onListening
        return Application(
            router: makeRouter(),
            configuration: ApplicationConfiguration(
                address: .hostname(configuration.host, port: configuration.port), serverName: "skald"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                logger.info("admin HTTP listening", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
                await onListening(port)
            },
            logger: logger
        )
    }

    /// Serves until graceful shutdown.
    public func run() async throws {
        try await application().run()
    }
}
