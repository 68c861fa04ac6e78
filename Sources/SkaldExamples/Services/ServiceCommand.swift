import Foundation
public import Skald

/// One command as a service's handler sees it: its CloudEvents attributes and JSON payload.
public struct ServiceCommand: Sendable {
    /// The attributes; `envelope.id` is the command id the service dedupes on.
    public var envelope: MessageEnvelope
    /// The JSON payload.
    public var payload: [UInt8]

    /// Creates a command.
    public init(envelope: MessageEnvelope, payload: [UInt8]) {
        self.envelope = envelope
        self.payload = payload
    }

    /// The payload decoded as `Message`.
    ///
    /// - Throws: ``ExampleServiceError`` naming the type when the JSON does not match.
    public func decode<Message: SagaMessage>(_ type: Message.Type) throws -> Message {
        do {
            return try SkaldJSON.decode(Message.self, from: payload)
        } catch {
            throw ExampleServiceError("command \(envelope.id) is not a valid \(Message.messageType): \(error)")
        }
    }
}
