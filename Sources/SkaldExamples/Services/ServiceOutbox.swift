import Foundation
public import Skald
public import SkaldPostgres
import SkaldRuntime

/// Writes messages to a service's outbox, in the caller's transaction.
public enum ServiceOutbox {
    /// One outbox row before it is written.
    public struct Row: Encodable, Sendable {
        let lane: Int
        let message_id: String
        let saga_id: String
        let topic: String
        let message_key: String
        let headers: String
        let payload: String

        /// `message` with `envelope` for `topic`, keyed by `key`; rows with the same
        /// `laneKey` are published in the order they were written.
        public init(
            _ message: some SagaMessage, envelope: MessageEnvelope, topic: String, key: String, laneKey: String
        ) throws {
            let headers = envelope.headers().map { [$0.name, String(decoding: $0.value, as: UTF8.self)] }
            self.lane = OutboxRelay.lane(ofSaga: laneKey)
            self.message_id = envelope.id
            self.saga_id = laneKey
            self.topic = topic
            self.message_key = key
            self.headers = String(decoding: try SkaldJSON.encode(headers), as: UTF8.self)
            self.payload = String(decoding: try SkaldJSON.encode(message), as: UTF8.self)
        }
    }

    /// Writes `rows` in one statement; the relay publishes them after commit.
    /// A row whose message id is in the outbox already is ignored.
    public static func write(_ rows: [Row], on connection: isolated PostgresConnection) throws {
        guard !rows.isEmpty else { return }
        let json = String(decoding: try SkaldJSON.encode(rows), as: UTF8.self)
        _ = try connection.execute(
            """
            INSERT INTO outbox (lane, message_id, saga_id, topic, message_key, headers, payload)
            SELECT x.lane, x.message_id, x.saga_id, x.topic, x.message_key, x.headers::json, x.payload::json
            FROM jsonb_to_recordset(\(json)::jsonb) AS x(
                lane smallint, message_id text, saga_id text, topic text, message_key text, headers text, payload text)
            ON CONFLICT (message_id) DO NOTHING
            """
        )
    }
}
