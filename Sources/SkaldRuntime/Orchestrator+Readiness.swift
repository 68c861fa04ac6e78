import SkaldKafka
import SkaldPostgres

extension Orchestrator {
    /// Whether ``run()`` has started consuming and has not stopped.
    public var isRunning: Bool {
        running.load(ordering: .acquiring)
    }

    /// Checks that Postgres answers: a pooled connection runs `SELECT 1`.
    ///
    /// - Throws: the connection's or the statement's error.
    public func checkPostgres() async throws {
        try await pool.withConnection { connection in
            _ = try await connection.query("SELECT 1")
        }
    }

    /// Checks that a Kafka broker answers a metadata request within `timeout`.
    ///
    /// - Throws: ``KafkaError`` (`_TRANSPORT`, `_TIMED_OUT`, …) when none does.
    public func checkKafka(timeout: Duration = .seconds(2)) async throws {
        _ = try await producer.metadata(timeout: timeout)
    }

    /// Reads the consumer lag and the outbox backlog into their gauges
    /// (`skald_consumer_lag_messages`, `skald_outbox_pending_rows`, `skald_outbox_lag_seconds`,
    /// and each projection's `skald_projection_lag_messages`):
    /// the admin server calls it before each `/metrics` answer. Calls less than a second apart
    /// share one reading; does nothing while the orchestrator is not running.
    public func sampleLag() async {
        for runner in projections.runners { await runner.sampleLag() }
        guard let sampler = lagSampler.withLock({ $0 }) else { return }
        await sampler.sample()
    }
}
