package import Skald
import SkaldKafka
package import SkaldPostgres

/// Outbox rows gathered for one statement: the pump's commands, an example service's replies.
///
/// Both write the same `outbox` table (the one ``OutboxRelay`` reads) with the same statement,
/// `PumpStatements.enqueueCommands`, one binary array per column. Headers and payload go in as
/// JSON text (the columns are `text`, so Postgres does not parse it): the headers as
/// `[[name, value], …]` written from the envelope.
package struct OutboxRows {
    private var lanes = PostgresArrayWriter(of: .int2)
    private var messageIds = PostgresArrayWriter(of: .text)
    private var sagaIds = PostgresArrayWriter(of: .text)
    private var topics = PostgresArrayWriter(of: .text)
    private var keys = PostgresArrayWriter(of: .text)
    private var headers = PostgresArrayWriter(of: .text)
    private var payloads = PostgresArrayWriter(of: .text)
    private var firstSequences = PostgresArrayWriter(of: .int4)
    private var lastSequences = PostgresArrayWriter(of: .int4)
    /// The messages of rows to hand to the relay once the transaction commits, by message id.
    private var handing: [String: (lane: Int, message: KafkaOutgoingMessage)] = [:]
    /// The lanes of those rows, each with the epoch its writer claimed it in.
    private var claims: [Int: Int] = [:]
    /// Rows that go to the relay through the outbox alone (to be announced).
    package private(set) var unhandedCount = 0

    /// No rows yet.
    package init() {}

    /// Rows appended so far.
    package var count: Int { messageIds.count }

    /// Appends message `messageId`, `payload` (JSON) with `envelope`'s headers, for `topic`
    /// under `key`. Rows with the same `sagaId` share a lane, and so leave in the order they
    /// were written.
    ///
    /// `handingIn`: the epoch the writer claimed the row's lane in (``OutboxHandoff/claim(lane:)``),
    /// when the row is to be handed to the relay after the commit; nil when it goes through
    /// the outbox alone. Each message id of a batch must differ.
    package mutating func append(
        messageId: String, sagaId: String, topic: String, key: String, envelope: MessageEnvelope, payload: [UInt8],
        handingIn epoch: Int? = nil
    ) {
        let lane = OutboxRelay.lane(ofSaga: sagaId)
        if let epoch {
            // The Kafka headers of the message handed over, from the same walk of the envelope
            // that writes the row's: its time is formatted once.
            var kafkaHeaders = KafkaHeaders()
            kafkaHeaders.reserveCapacity(headers: 12, bytes: 384)
            headers.appendText { buffer in
                JSONRecords.writeHeaderArray(of: envelope, into: &buffer) { name, value in
                    kafkaHeaders.append(name: name, value: value)
                }
            }
            handing[messageId] = (lane, KafkaOutgoingMessage(topic: topic, key: Array(key.utf8), value: payload, headers: kafkaHeaders))
            claims[lane] = epoch
        } else {
            headers.appendText { JSONRecords.writeHeaderArray(of: envelope, into: &$0) }
            unhandedCount += 1
        }
        lanes.append(lane)
        messageIds.append(messageId)
        sagaIds.append(sagaId)
        topics.append(topic)
        keys.append(key)
        payloads.append(utf8: payload)
        firstSequences.appendNull()
        lastSequences.appendNull()
    }

    /// Appends the mirror's row for events `sequences` of saga `sagaId`: one row that names
    /// them, which the orchestrator's ``OutboxRelay`` expands into one message per event from
    /// `saga_events` (schemas/postgres/0006_event_ranges.sql). The events are not copied.
    ///
    /// The row's lane is the saga's plus ``OutboxRelay/laneCount``, which only a relay that
    /// expands ranges reads; its headers hold what the events' headers need beyond the event
    /// itself (the saga's type and definition version), its payload is `{}`.
    package mutating func appendEventRange(
        sagaId: String, sagaType: String, version: Int, sequences: ClosedRange<Int>, topic: String
    ) {
        lanes.append(OutboxRelay.lane(ofSaga: sagaId) + OutboxRelay.laneCount)
        messageIds.append("events:\(sagaId):\(sequences.lowerBound)-\(sequences.upperBound)")
        sagaIds.append(sagaId)
        topics.append(topic)
        keys.append(sagaId)
        headers.append(utf8: JSONRecords.headerArray(
            [SagaEventMirror.sagaTypeHeader: sagaType, SagaEventMirror.sagaVersionHeader: String(version)]))
        payloads.append(utf8: SagaEventMirror.rangePayload)
        firstSequences.append(sequences.lowerBound)
        lastSequences.append(sequences.upperBound)
        unhandedCount += 1
    }

    /// Whether some rows are to be handed over; the statement then returns the rows' ids.
    package var hands: Bool { !handing.isEmpty }

    /// The insert of every row. Each message id must be new: nothing checks it (see
    /// `PumpStatements.enqueueCommands`). When rows are to be handed over, it returns each
    /// row's id and message id, for ``handoff(from:)``.
    package var statement: PostgresQuery {
        PostgresQuery(hands ? PumpStatements.enqueueCommandsReturningIds : PumpStatements.enqueueCommands, [
            lanes.value, messageIds.value, sagaIds.value, topics.value, keys.value, headers.value, payloads.value,
            firstSequences.value, lastSequences.value,
        ])
    }

    /// What to hand the relay, from the committed insert's returned rows (``statement``).
    package func handoff(from inserted: PostgresRows) throws -> PendingHandoff {
        var rows: [OutboxHandoff.Row] = []
        rows.reserveCapacity(handing.count)
        for row in inserted {
            let messageId = try row.decode(String.self, at: 1)
            guard let handed = handing[messageId] else { continue }
            rows.append(OutboxHandoff.Row(id: try row.decode(Int64.self, at: 0), lane: handed.lane, message: handed.message))
        }
        return PendingHandoff(rows: rows, claims: claims, unhandedCount: unhandedCount)
    }

    /// What to tell the relay when nothing was handed over (the insert returned no ids).
    package var unhanded: PendingHandoff {
        PendingHandoff(rows: [], claims: [:], unhandedCount: count)
    }
}

/// Outbox rows a committed transaction wrote, to hand to the relay (``OutboxHandoff``).
package struct PendingHandoff: Sendable {
    /// The rows handed over, with their ids.
    package var rows: [OutboxHandoff.Row]
    /// Their lanes, each with the epoch claimed before the commit.
    package var claims: [Int: Int]
    /// Rows the transaction wrote that go through the outbox alone.
    package var unhandedCount: Int

    /// Nothing written.
    package static let none = PendingHandoff(rows: [], claims: [:], unhandedCount: 0)

    /// Hands the rows over and announces the rest; returns the lanes whose rows the relay
    /// took. Without a relay in this process, the transaction's `NOTIFY` (or the relay's
    /// polling) announces them all.
    @discardableResult
    package func deliver(to handoff: OutboxHandoff?) -> Set<Int> {
        guard let handoff else { return [] }
        let accepted = handoff.hand(rows, claims: claims)
        if unhandedCount > 0 { handoff.announceRowsInDatabase() }
        return accepted
    }
}
