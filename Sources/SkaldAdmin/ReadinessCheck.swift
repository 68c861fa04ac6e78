public import SkaldRuntime

/// One dependency `/ready` asks about: a name, and a call that throws when it is not usable.
public struct ReadinessCheck: Sendable {
    /// What is checked (`postgres`, `kafka`, `orchestrator`), as `/ready` reports it.
    public var name: String
    /// Returns when the dependency is usable; throws (with the reason) when not.
    public var check: @Sendable () async throws -> Void

    /// Creates a check.
    public init(_ name: String, check: @escaping @Sendable () async throws -> Void) {
        self.name = name
        self.check = check
    }

    /// The checks of an orchestrator: it is consuming, Postgres answers, and a Kafka broker answers.
    ///
    /// - Parameter kafkaTimeout: how long the metadata request may take; below the admin
    ///   server's readiness timeout (two seconds by default), so that `/ready` reports
    ///   librdkafka's own reason (`_TRANSPORT`, `_TIMED_OUT`) rather than its time running out.
    public static func orchestrator(_ orchestrator: Orchestrator, kafkaTimeout: Duration = .milliseconds(1_500)) -> [ReadinessCheck] {
        [
            ReadinessCheck("orchestrator") {
                guard orchestrator.isRunning else { throw NotReady("the orchestrator is not consuming yet") }
            },
            ReadinessCheck("postgres") { try await orchestrator.checkPostgres() },
            ReadinessCheck("kafka") { try await orchestrator.checkKafka(timeout: kafkaTimeout) },
        ]
    }
}

/// Why a check failed, when there is no underlying error to report.
public struct NotReady: Error, Sendable, CustomStringConvertible {
    /// What is missing.
    public var description: String

    /// Creates the reason.
    public init(_ description: String) {
        self.description = description
    }
}
