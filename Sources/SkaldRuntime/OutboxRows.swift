package import Skald
package import SkaldPostgres

/// Outbox rows gathered for one statement: the pump's commands, an example service's replies.
///
/// Both write the same `outbox` table (the one ``OutboxRelay`` reads) with the same statement,
/// `PumpStatements.enqueueCommands`, one binary array per column. Headers and payload go in as
/// JSON values: the headers as `[[name, value], …]` written from the envelope.
package struct OutboxRows {
    private var lanes = PostgresArrayWriter(of: .int2)
    private var messageIds = PostgresArrayWriter(of: .text)
    private var sagaIds = PostgresArrayWriter(of: .text)
    private var topics = PostgresArrayWriter(of: .text)
    private var keys = PostgresArrayWriter(of: .text)
    private var headers = PostgresArrayWriter(of: .json)
    private var payloads = PostgresArrayWriter(of: .json)
    private var firstSequences = PostgresArrayWriter(of: .int4)
    private var lastSequences = PostgresArrayWriter(of: .int4)

    /// No rows yet.
    package init() {}

    /// Rows appended so far.
    package var count: Int { messageIds.count }

    /// Appends message `messageId`, `payload` (JSON) with `envelope`'s headers, for `topic`
    /// under `key`. Rows with the same `sagaId` share a lane, and so leave in the order they
    /// were written.
    package mutating func append(
        messageId: String, sagaId: String, topic: String, key: String, envelope: MessageEnvelope, payload: [UInt8]
    ) {
        lanes.append(OutboxRelay.lane(ofSaga: sagaId))
        messageIds.append(messageId)
        sagaIds.append(sagaId)
        topics.append(topic)
        keys.append(key)
        headers.append(utf8: JSONRecords.headerArray(of: envelope))
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
    }

    /// The insert of every row. Each message id must be new: nothing checks it (see
    /// `PumpStatements.enqueueCommands`).
    package var statement: PostgresQuery {
        PostgresQuery(PumpStatements.enqueueCommands, [
            lanes.value, messageIds.value, sagaIds.value, topics.value, keys.value, headers.value, payloads.value,
            firstSequences.value, lastSequences.value,
        ])
    }
}
