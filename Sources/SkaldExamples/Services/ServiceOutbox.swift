import Foundation
public import Skald
public import SkaldPostgres
import SkaldRuntime

/// Writes a message to a service's outbox, in the caller's transaction.
public enum ServiceOutbox {
    /// Adds `message` with `envelope` for `topic`, keyed by `key`; the relay publishes it after commit.
    ///
    /// `laneKey` orders messages: those with the same key leave in the order written.
    /// A second write with the same `envelope.id` is ignored.
    public static func write(
        _ message: some SagaMessage, envelope: MessageEnvelope, topic: String, key: String, laneKey: String,
        on connection: PostgresConnection
    ) async throws {
        let headers = envelope.headers().map { [$0.name, String(decoding: $0.value, as: UTF8.self)] }
        let headersJSON = String(decoding: try JSONEncoder().encode(headers), as: UTF8.self)
        let payload = String(decoding: try JSONEncoder().encode(message), as: UTF8.self)
        let lane = Int16(OutboxRelay.lane(ofSaga: laneKey))
        _ = try await connection.execute(
            """
            INSERT INTO outbox (lane, message_id, saga_id, topic, message_key, headers, payload)
            VALUES (\(lane), \(envelope.id), \(laneKey), \(topic), \(key), \(headersJSON)::jsonb, \(payload)::jsonb)
            ON CONFLICT (message_id) DO NOTHING
            """
        )
    }
}
