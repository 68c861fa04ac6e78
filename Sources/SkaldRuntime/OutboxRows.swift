package import Skald
package import SkaldPostgres

/// Outbox rows gathered for one statement: the pump's commands, an example service's replies.
///
/// Both write the same `outbox` table (the one ``OutboxRelay`` reads) with the same statement,
/// `PumpStatements.enqueueCommands`. Headers and payload go into the bind as JSON values, not as
/// JSON text inside JSON, and the headers straight from the envelope.
package struct OutboxRows {
    private var records = JSONRecords()

    /// No rows yet.
    package init() {}

    /// Rows appended so far.
    package var count: Int { records.count }

    /// Appends message `messageId`, `payload` (JSON) with `envelope`'s headers, for `topic`
    /// under `key`. Rows with the same `sagaId` share a lane, and so leave in the order they
    /// were written.
    package mutating func append(
        messageId: String, sagaId: String, topic: String, key: String, envelope: MessageEnvelope, payload: [UInt8]
    ) {
        records.beginRecord()
        records.field("lane", OutboxRelay.lane(ofSaga: sagaId))
        records.field("message_id", messageId)
        records.field("saga_id", sagaId)
        records.field("topic", topic)
        records.field("message_key", key)
        records.field("headers", headersOf: envelope)
        records.field("payload", json: payload)
        records.endRecord()
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
        records.beginRecord()
        records.field("lane", OutboxRelay.lane(ofSaga: sagaId) + OutboxRelay.laneCount)
        records.field("message_id", "events:\(sagaId):\(sequences.lowerBound)-\(sequences.upperBound)")
        records.field("saga_id", sagaId)
        records.field("topic", topic)
        records.field("message_key", sagaId)
        records.field(
            "headers",
            headerPairs: [SagaEventMirror.sagaTypeHeader: sagaType, SagaEventMirror.sagaVersionHeader: String(version)])
        records.field("payload", json: SagaEventMirror.rangePayload)
        records.field("first_sequence", sequences.lowerBound)
        records.field("last_sequence", sequences.upperBound)
        records.endRecord()
    }

    /// The insert of every row. Each message id must be new: nothing checks it (see
    /// `PumpStatements.enqueueCommands`).
    package var statement: PostgresQuery {
        PostgresQuery(PumpStatements.enqueueCommands, [records.value])
    }
}
