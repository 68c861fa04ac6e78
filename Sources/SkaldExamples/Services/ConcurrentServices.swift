public import ServiceLifecycle

/// Services run side by side and stopped together, as one `Service`.
///
/// A `ServiceGroup` stops its services one after another, last first, which suits services
/// that depend on each other. The example services do not: each has its own consumer, relay
/// and producer. Stopped in turn while Kafka was unreachable, each waited out its relay's
/// round before the next heard of the stop (`skald examples serve` took two minutes). Run as
/// one service, they hear a graceful shutdown at once (child tasks share their parent's
/// shutdown signal), so a stop takes as long as the slowest of them.
///
/// If one of them throws, or returns before a stop as a `ServiceGroup` would not let it, the
/// others are cancelled and the error ends the run.
public struct ConcurrentServices: Service {
    /// A service returned although no stop was asked for.
    public struct FinishedEarly: Error, CustomStringConvertible {
        /// The service's description.
        public let service: String
        /// What happened, naming the service.
        public var description: String { "\(service) returned before a graceful shutdown was asked for" }
    }

    /// The services, all started at once.
    public let services: [any Service]

    /// Groups `services` to run and stop together.
    public init(_ services: [any Service]) {
        self.services = services
    }

    /// Runs every service until all have returned.
    public func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            for service in services {
                group.addTask {
                    try await service.run()
                    if !Task.isShuttingDownGracefully && !Task.isCancelled {
                        throw FinishedEarly(service: "\(service)")
                    }
                }
            }
        }
    }
}

extension ConcurrentServices: CustomStringConvertible {
    /// The services' descriptions, for the service group's logs.
    public var description: String {
        "ConcurrentServices(\(services.map { "\($0)" }.joined(separator: ", ")))"
    }
}
