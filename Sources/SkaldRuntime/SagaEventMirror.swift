import Foundation
import Skald
import SkaldKafka

/// The messages of the saga-event mirror (``OrchestratorConfiguration/sagaEventsTopic``).
///
/// One CloudEvent per saga event, keyed by the saga id: `ce_id` is `event:<saga>:<sequence>`,
/// `ce_type` is `skald.<event type>`, `ce_time` the event's time, and the extensions
/// `ce_sagasequence` and `ce_sagaversion` say where in which log it sits. The value is the stored
/// event JSON, byte for byte.
///
/// The pump does not write these messages into the outbox: it writes one row per decision that
/// names a range of the saga's sequences (``OutboxRows/appendEventRange(sagaId:sagaType:version:sequences:topic:)``),
/// and the relay builds the messages from `saga_events` when it publishes them. The row's
/// headers carry the two attributes the log does not: the saga's type and definition version.
enum SagaEventMirror {
    /// The range row's header that holds the saga type.
    static let sagaTypeHeader = "ce_sagatype"
    /// The range row's header that holds the saga's definition version.
    static let sagaVersionHeader = "ce_sagaversion"
    /// A range row's payload column, `{}`: the events come from `saga_events`.
    static let rangePayload: [UInt8] = Array("{}".utf8)

    /// The saga-level attributes of a range row, read from its headers column.
    struct Range {
        /// The saga's type.
        var sagaType: String
        /// The definition version the saga runs.
        var version: String

        /// Reads them from the row's `[[name, value], …]` headers; nil when one is missing.
        init?(headers: KafkaHeaders) {
            func text(_ name: String) -> String? {
                headers.first(named: name).map { String(decoding: $0, as: UTF8.self) }
            }
            guard let sagaType = text(SagaEventMirror.sagaTypeHeader), let version = text(SagaEventMirror.sagaVersionHeader)
            else { return nil }
            self.sagaType = sagaType
            self.version = version
        }
    }

    /// The message for event `sequence` of saga `sagaId`.
    ///
    /// - Parameters:
    ///   - microseconds: the event's `recorded_at`, in microseconds since 1970.
    ///   - body: the stored event JSON.
    static func message(
        topic: String, sagaId: String, range: Range, sequence: Int, eventType: String, microseconds: Int64, body: [UInt8]
    ) -> KafkaOutgoingMessage {
        var envelope = MessageEnvelope(
            id: "event:\(sagaId):\(sequence)", source: "skald/\(range.sagaType)", type: "skald.\(eventType)",
            sagaId: sagaId, sagaType: range.sagaType,
            extensions: ["sagasequence": String(sequence), "sagaversion": range.version])
        // Set after the initializer, which truncates to whole microseconds: the division by a
        // million may land a hair below the stored microsecond, and `ce_time` must be exactly
        // the stored time (the formatting rounds to the nearest microsecond).
        envelope.time = Date(timeIntervalSince1970: Double(microseconds) / 1_000_000)
        return KafkaOutgoingMessage(
            topic: topic, key: Array(sagaId.utf8), value: body,
            headers: KafkaHeaders(envelope))
    }
}
