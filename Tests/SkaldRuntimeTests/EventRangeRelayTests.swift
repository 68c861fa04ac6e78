import Foundation
import Skald
import SkaldKafka
import SkaldPostgres
@testable import SkaldRuntime
import SkaldTestSupport
import Testing

@Suite("The saga-event mirror's range rows: one outbox row per decision, one message per event")
struct EventRangeRelayTests {
    private static let sagaId = "Transfer-ranges"

    /// Three events of one saga as the pump stores them, at times whose microseconds a
    /// division by a million does not give back exactly.
    private static let times = ["2026-11-26T10:00:00.000001Z", "2026-11-26T10:00:00.123457Z", "2026-11-26T23:59:59.999999Z"]

    @Test("a relay that does not expand ranges leaves them alone; the orchestrator's publishes each event once, as stored, then forgets the row")
    func rangesExpand() async throws {
        let url = try await TestPostgres.freshStore("ranges")
        let cluster = try transferCluster()
        defer { cluster.shutdown() }
        let connection = try await PostgresConnection.connect(to: url)
        for (index, time) in Self.times.enumerated() {
            let body = #"{"type": "step.succeeded", "n": \#(index + 1), "note": "ünïcode \"quoted\""}"#
            try await connection.query(
                "INSERT INTO saga_events (saga_id, sequence, event_type, recorded_at, event) VALUES (\(Self.sagaId), \(index + 1), \("step.succeeded"), \(time)::timestamptz, \(body)::json)")
        }
        // As one batch writes them: a decision's two events, a command, the next decision's event.
        var rows = OutboxRows()
        rows.appendEventRange(sagaId: Self.sagaId, sagaType: "Transfer", version: 3, sequences: 1...2, topic: "skald.saga-events")
        let command = MessageEnvelope(id: "\(Self.sagaId)/debit/action/1", source: "skald/Transfer", type: "Debit", sagaId: Self.sagaId)
        rows.append(
            messageId: command.id, sagaId: Self.sagaId, topic: TransferTopics.all[0], key: Self.sagaId,
            envelope: command, payload: Array(#"{"amount": 5}"#.utf8))
        rows.appendEventRange(sagaId: Self.sagaId, sagaType: "Transfer", version: 3, sequences: 3...3, topic: "skald.saga-events")
        try await connection.query(rows.statement)
        await connection.close()

        let pool = PostgresPool(url: url, minimumConnections: 1, maximumConnections: 2)
        let producer = try KafkaProducer(configuration: mockKafka(cluster))
        let allLanes = Array(0..<OutboxRelay.laneCount)
        // A relay of an earlier version, or a service's: lanes 0–15 only, no ranges.
        let plain = OutboxRelay(postgresURL: url, pool: pool, producer: producer)
        #expect(try await plain.relayOnce(lanes: allLanes) == 1)
        #expect(try await TestPostgres.count(url, "SELECT count(*)::bigint FROM outbox WHERE first_sequence IS NOT NULL") == 2)
        let expanding = OutboxRelay(postgresURL: url, pool: pool, producer: producer, expandsSagaEvents: true)
        #expect(try await expanding.relayOnce(lanes: allLanes) == 2)
        #expect(try await TestPostgres.count(url, "SELECT count(*)::bigint FROM outbox") == 0)
        await producer.shutdown()

        var configuration = mockKafka(cluster)
        configuration.groupID = "ranges-\(UUID().uuidString.prefix(8))"
        let consumer = try KafkaConsumer(configuration: configuration, topics: ["skald.saga-events"])
        var messages: [KafkaMessage] = []
        while messages.count < 3, let batch = try await consumer.nextBatch(maxCount: 10) {
            messages += batch
        }
        // Nothing more within a second: each event once.
        let more = Task { try await consumer.nextBatch(maxCount: 10) }
        try await Task.sleep(for: .seconds(1))
        more.cancel()
        let extra = try await more.value
        try await consumer.close()
        #expect(extra?.isEmpty ?? true)
        #expect(messages.count == 3)

        let stored = try await TestPostgres.strings(
            url, "SELECT event::text FROM saga_events WHERE saga_id = \(Self.sagaId) ORDER BY sequence")
        func header(_ message: KafkaMessage, _ name: String) -> String? {
            message.headers.first(named: name).map { String(decoding: $0, as: UTF8.self) }
        }
        for (index, message) in messages.enumerated() {
            #expect(message.keyString == Self.sagaId)
            #expect(message.valueString == stored[index], "the stored event, byte for byte")
            #expect(header(message, "ce_id") == "event:\(Self.sagaId):\(index + 1)")
            #expect(header(message, "ce_type") == "skald.step.succeeded")
            #expect(header(message, "ce_time") == Self.times[index])
            #expect(header(message, "ce_source") == "skald/Transfer")
            #expect(header(message, "ce_sagatype") == "Transfer")
            #expect(header(message, "ce_sagaversion") == "3")
            #expect(header(message, "ce_sagasequence") == String(index + 1))
            #expect(header(message, "ce_specversion") == "1.0")
            let envelope = try MessageEnvelope(headers: message.headers.map { ($0.name, $0.value ?? []) })
            #expect(envelope.sagaId == Self.sagaId)
        }
        #expect(Set(messages.map(\.partition)).count == 1, "one saga, one partition")
    }

    @Test("a range row whose events are not in the log is dropped with an error, not retried forever")
    func rangeWithoutEvents() async throws {
        let url = try await TestPostgres.freshStore("ranges")
        let cluster = try transferCluster()
        defer { cluster.shutdown() }
        var rows = OutboxRows()
        rows.appendEventRange(sagaId: "Transfer-gone", sagaType: "Transfer", version: 1, sequences: 1...2, topic: "skald.saga-events")
        let connection = try await PostgresConnection.connect(to: url)
        try await connection.query(rows.statement)
        await connection.close()
        let pool = PostgresPool(url: url, minimumConnections: 1, maximumConnections: 2)
        let producer = try KafkaProducer(configuration: mockKafka(cluster))
        let relay = OutboxRelay(postgresURL: url, pool: pool, producer: producer, expandsSagaEvents: true)
        #expect(try await relay.relayOnce(lanes: Array(0..<OutboxRelay.laneCount)) == 1)
        #expect(try await TestPostgres.count(url, "SELECT count(*)::bigint FROM outbox") == 0)
        await producer.shutdown()
    }
}
