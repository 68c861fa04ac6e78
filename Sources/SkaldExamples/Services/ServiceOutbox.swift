import Foundation
public import Skald
public import SkaldPostgres
import SkaldRuntime

/// Writes messages to a service's outbox, in the caller's transaction.
public enum ServiceOutbox {
    /// One outbox row before it is written.
    public struct Row: Sendable {
        let messageId: String
        let laneKey: String
        let topic: String
        let key: String
        let envelope: MessageEnvelope
        let payload: [UInt8]

        /// `message` with `envelope` for `topic`, keyed by `key`; rows with the same
        /// `laneKey` are published in the order they were written.
        public init(
            _ message: some SagaMessage, envelope: MessageEnvelope, topic: String, key: String, laneKey: String
        ) throws {
            self.messageId = envelope.id
            self.laneKey = laneKey
            self.topic = topic
            self.key = key
            self.envelope = envelope
            self.payload = try SkaldJSON.encode(message)
        }
    }

    /// Writes `rows` in one statement, the one the orchestrator's pump writes its commands
    /// with; the relay publishes them after commit. Write a message once: its cause is applied
    /// once (the inbox), and nothing else checks its id.
    public static func write(_ rows: [Row], on connection: isolated PostgresConnection) throws {
        guard !rows.isEmpty else { return }
        var outbox = OutboxRows()
        for row in rows {
            outbox.append(
                messageId: row.messageId, sagaId: row.laneKey, topic: row.topic, key: row.key, envelope: row.envelope,
                payload: row.payload)
        }
        _ = try connection.execute(outbox.statement)
    }
}
