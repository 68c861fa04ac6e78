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
}
