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
        _ = try write(rows, on: connection, handingTo: nil)
    }

    /// Writes `rows` like ``write(_:on:)``, and returns what to give `handoff` once the
    /// transaction commits (``PendingHandoff/deliver(to:)``): each row whose lane its relay
    /// owns goes by hand, the others through the outbox alone.
    ///
    /// A service's replies need no more than that. Its relay keeps the order of the rows it
    /// is handed, and reads the outbox, merging by id, whenever it may hold others. What the
    /// hand-over does not see is a reply written by another process of the same service that
    /// no read found yet: a later reply to the same saga may leave before it. Each reply
    /// answers its own command, and the orchestrator takes a late reply for what it is, as it
    /// takes one that Kafka delays.
    static func write(
        _ rows: [Row], on connection: isolated PostgresConnection, handingTo handoff: OutboxHandoff?
    ) throws -> PendingHandoff {
        guard !rows.isEmpty else { return .none }
        var outbox = OutboxRows()
        for row in rows {
            outbox.append(
                messageId: row.messageId, sagaId: row.laneKey, topic: row.topic, key: row.key, envelope: row.envelope,
                payload: row.payload, handingIn: handoff?.claim(lane: OutboxRelay.lane(ofSaga: row.laneKey)))
        }
        let inserted = try connection.query(outbox.statement)
        return outbox.hands ? try outbox.handoff(from: inserted) : outbox.unhanded
    }
}
