import Foundation
import SkaldKafka
import SkaldPostgres

/// Produces `count` messages, consumes them through a consumer group and applies each
/// to Postgres exactly once, the way the orchestrator's message pump will.
struct DemoRoundTrip {
    var bootstrap: String
    var topic: String
    var runID: String
    var count: Int
    var pool: PostgresPool

    /// How long the consume side may take before the demo gives up and reports what is missing.
    var stallLimit: Duration = .seconds(120)

    func run() async throws -> DemoSummary {
        var summary = DemoSummary(expected: count)
        let clock = ContinuousClock()

        let producer = try KafkaProducer(
            configuration: KafkaConfiguration(
                bootstrapServers: bootstrap,
                properties: ["linger.ms": "5", "client.id": "skald-demo-producer"]
            )
        )
        let produceStart = clock.now
        let batchSize = 5_000
        for first in stride(from: 0, to: count, by: batchSize) {
            let batch = (first..<min(first + batchSize, count)).map { index in
                KafkaOutgoingMessage(
                    topic: topic,
                    key: "order-\(index % 997)",
                    value: #"{"orderId":"order-\#(index)","amountCents":\#(100 + index % 900)}"#,
                    headers: [
                        KafkaHeader(name: "ce_id", value: "\(runID)-\(index)"),
                        KafkaHeader(name: "ce_type", value: "com.example.demo.Ping"),
                    ]
                )
            }
            for result in try await producer.send(batch) {
                switch result {
                case .success: summary.produced += 1
                case .failure(let error): summary.produceErrors.append(error.description)
                }
            }
        }
        summary.produceTime = clock.now - produceStart
        await producer.shutdown()
        print("skald demo: produced \(summary.produced) messages with delivery reports in \(summary.produceTime)")

        var configuration = KafkaConfiguration(bootstrapServers: bootstrap)
        configuration.groupID = "skald-demo-\(runID)"
        configuration["session.timeout.ms"] = "6000"
        configuration["fetch.wait.max.ms"] = "10"
        let consumer = try KafkaConsumer(configuration: configuration, topics: [topic])
        let consumeStart = clock.now
        // A watchdog closes the consumer if the round trip never completes, so the demo
        // ends with a summary that says what is missing instead of hanging.
        let watchdog = Task {
            try await Task.sleep(for: stallLimit)
            try? await consumer.close()
        }
        defer { watchdog.cancel() }
        var lastReport = clock.now
        while summary.applied < summary.produced, let batch = try await consumer.nextBatch(maxCount: 1_000) {
            let inserted = try await apply(batch)
            summary.consumed += batch.count
            summary.applied += inserted
            summary.duplicatesSkipped += batch.count - inserted
            try consumer.storeOffsets(for: batch)
            try await consumer.commit()
            if clock.now - lastReport > .seconds(1) {
                lastReport = clock.now
                print("skald demo: \(summary.applied)/\(summary.produced) applied to Postgres")
            }
        }
        summary.consumeTime = clock.now - consumeStart
        try await consumer.close()

        summary.rowsInPostgres = try await pool.withConnection { connection in
            try await connection.query("SELECT count(*)::bigint FROM demo_roundtrip WHERE run_id = \(runID)")
                .first?.decode(Int.self, at: 0) ?? 0
        }
        return summary
    }

    /// Records each message once, in one pipelined transaction; returns how many were new.
    private func apply(_ batch: [KafkaMessage]) async throws -> Int {
        let queries: [PostgresQuery] = batch.map { message in
            let id = message.headers.first(named: "ce_id").map { String(decoding: $0, as: UTF8.self) }
                ?? "\(message.topic)/\(message.partition)/\(message.offset)"
            return """
                INSERT INTO demo_roundtrip (run_id, message_id, partition, kafka_offset)
                VALUES (\(runID), \(id), \(Int(message.partition)), \(message.offset))
                ON CONFLICT DO NOTHING
                """
        }
        return try await pool.withConnection { connection in
            try await connection.pipelineTransactionDiscardingRows(queries)
        }
    }
}

/// What the demo saw, printed for a person to check.
struct DemoSummary {
    var expected: Int
    var produced = 0
    var produceErrors: [String] = []
    var consumed = 0
    var applied = 0
    var duplicatesSkipped = 0
    var rowsInPostgres = 0
    var produceTime: Duration = .zero
    var consumeTime: Duration = .zero

    /// Every message produced is in Postgres exactly once.
    var isConsistent: Bool {
        produceErrors.isEmpty && produced == expected && applied == expected && rowsInPostgres == expected
    }

    func print() {
        func rate(_ n: Int, _ d: Duration) -> String {
            let seconds = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
            return seconds > 0 ? String(format: "%.0f/s", Double(n) / seconds) : "-"
        }
        Swift.print(
            """

            ── skald demo summary ─────────────────────────────
              produced (delivery confirmed)  \(produced) of \(expected)   \(rate(produced, produceTime))
              consumed from Kafka            \(consumed)   \(rate(consumed, consumeTime))
              applied to Postgres once       \(applied)
              duplicates skipped by inbox    \(duplicatesSkipped)
              rows in Postgres               \(rowsInPostgres)
              produce errors                 \(produceErrors.count)\(produceErrors.first.map { " (first: \($0))" } ?? "")
              consistent                     \(isConsistent ? "yes: every message exactly once" : "NO")
            ────────────────────────────────────────────────────
            """
        )
    }
}
