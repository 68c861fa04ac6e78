import Foundation
import Skald
import SkaldKafka
import SkaldPostgres
@testable import SkaldRuntime
import SkaldTestSupport
import Testing

@Suite("The saga-event mirror's range rows: one outbox row per decision, one message per event", .serialized)
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
        // A batch of one row: a whole range (two events), then the next row.
        let expanding = OutboxRelay(postgresURL: url, pool: pool, producer: producer, batchSize: 1, expandsSagaEvents: true)
        #expect(try await expanding.relayOnce(lanes: allLanes) == 1)
        #expect(try await TestPostgres.count(url, "SELECT count(*)::bigint FROM outbox") == 1)
        #expect(try await expanding.relayOnce(lanes: allLanes) == 1)
        #expect(try await TestPostgres.count(url, "SELECT count(*)::bigint FROM outbox") == 0)
        await producer.shutdown()

        let messages = try await consumeAll(cluster, topic: "skald.saga-events", expecting: 3)
        #expect(messages.count == 3, "each event once")

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

    @Test("an event that cannot be delivered holds its range from that event on: the ones before it are not sent again")
    func partialFailure() async throws {
        let url = try await TestPostgres.freshStore("ranges")
        let cluster = try transferCluster()
        defer { cluster.shutdown() }
        let connection = try await PostgresConnection.connect(to: url)
        for sequence in 1...3 {
            // The second event is larger than the producer may send: it fails every time.
            let filler = String(repeating: "x", count: sequence == 2 ? 4_000 : 10)
            let body = #"{"n": \#(sequence), "filler": "\#(filler)"}"#
            try await connection.query(
                "INSERT INTO saga_events (saga_id, sequence, event_type, recorded_at, event) VALUES (\(Self.sagaId), \(sequence), \("step.succeeded"), now(), \(body)::json)")
        }
        var rows = OutboxRows()
        rows.appendEventRange(sagaId: Self.sagaId, sagaType: "Transfer", version: 1, sequences: 1...3, topic: "skald.saga-events")
        try await connection.query(rows.statement)

        let pool = PostgresPool(url: url, minimumConnections: 1, maximumConnections: 2)
        var settings = mockKafka(cluster)
        settings["message.max.bytes"] = "1000"
        let producer = try KafkaProducer(configuration: settings)
        let relay = OutboxRelay(postgresURL: url, pool: pool, producer: producer, expandsSagaEvents: true)
        let lanes = Array(0..<OutboxRelay.laneCount)
        #expect(try await relay.relayOnce(lanes: lanes) == 0, "the row stays")
        let firstSequence = try await connection.query("SELECT first_sequence FROM outbox").first?.decode(Int.self, at: 0)
        #expect(firstSequence == 2, "event 1 went out; the row goes on from event 2")
        #expect(try await relay.relayOnce(lanes: lanes) == 0)
        await connection.close()
        await producer.shutdown()

        let messages = try await consumeAll(cluster, topic: "skald.saga-events", expecting: 3)
        let sequences = messages.compactMap { $0.headers.first(named: "ce_sagasequence").map { String(decoding: $0, as: UTF8.self) } }
        #expect(sequences.filter { $0 == "1" }.count == 1, "event 1 once: \(sequences)")
        #expect(!sequences.contains("2"))
        #expect(sequences.filter { $0 == "3" }.count == 2, "event 3 with each attempt of the range: \(sequences)")
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

@Suite("A relay round's settlement: which rows are forgotten, which ranges go on from where")
struct OutboxRoundTests {
    private func message() -> KafkaOutgoingMessage {
        KafkaOutgoingMessage(topic: "t", key: "k", value: "v")
    }

    /// A round of plain row 1, range row 2 (events 4–6), plain row 3, range row 4 (events 1–2).
    private func round() -> OutboxRound {
        var round = OutboxRound(capacity: 7)
        round.append(message(), row: 1)
        for sequence in 4...6 { round.append(message(), row: 2, sequence: sequence) }
        round.append(message(), row: 3)
        for sequence in 1...2 { round.append(message(), row: 4, sequence: sequence) }
        return round
    }

    @Test("everything delivered: every row forgotten, dropped ones too")
    func allDelivered() {
        var round = round()
        let first = round.dropping(row: 9)
        let again = round.dropping(row: 9)
        #expect(first)
        #expect(!again, "a range's second result row for the same row")
        let settlement = round.settle(Array(repeating: true, count: 7))
        #expect(settlement.forget == [9, 1, 2, 3, 4])
        #expect(settlement.resume.isEmpty)
        #expect(settlement.delivered == 7 && settlement.failed == 0)
    }

    @Test("a failure keeps its row; a range goes on from its first failed event, unless that is its first")
    func failures() {
        // Row 1 fails; row 2's event 5 fails (6 delivered after it); row 4's first event fails.
        let settlement = round().settle([false, true, false, true, true, false, true])
        #expect(settlement.forget == [3])
        #expect(settlement.resume.count == 1)
        #expect(settlement.resume.first?.row == 2 && settlement.resume.first?.firstSequence == 5)
        #expect(settlement.delivered == 4 && settlement.failed == 3)
    }

    @Test("random outcomes: a row is forgotten exactly when all its messages were delivered; a resume point is a failed event after a delivered one")
    func randomOutcomes() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let outcomes = (0..<7).map { _ in Bool.random(using: &generator) }
            let settlement = round().settle(outcomes)
            let byRow: [Int64: [Bool]] = [1: [outcomes[0]], 2: Array(outcomes[1...3]), 3: [outcomes[4]], 4: Array(outcomes[5...6])]
            for (row, delivered) in byRow {
                #expect(settlement.forget.contains(row) == delivered.allSatisfy { $0 })
            }
            for (row, first) in settlement.resume {
                let sequences = row == 2 ? Array(4...6) : Array(1...2)
                let delivered = byRow[row]!
                let index = sequences.firstIndex(of: first)!
                #expect(!delivered[index] && index > 0 && delivered[..<index].allSatisfy { $0 })
            }
            #expect(settlement.delivered + settlement.failed == 7)
        }
    }
}
