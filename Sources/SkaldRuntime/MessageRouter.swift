import Foundation
import Skald
public import SkaldKafka

/// Turns a consumed Kafka message into work for one saga, or says why it cannot.
///
/// The order of the rules: a `ce_sagaid` header names the saga; otherwise a start
/// trigger of a registered saga claims the message (the saga id is derived from the
/// business key, so the same event delivered twice starts one saga); otherwise a
/// step that correlates this message type by a payload field finds the saga by its
/// business key. A message none of these claims is a dead letter.
public struct MessageRouter: Sendable {
    let registry: SagaRegistry

    /// A router over the sagas of `registry`.
    public init(registry: SagaRegistry) {
        self.registry = registry
    }

    /// The routing of one message.
    public enum Route: Sendable {
        /// Work for the processor.
        case work(SagaWork)
        /// A dead letter, with the reason that goes in its headers.
        case deadLetter(reason: String)
    }

    /// Routes `message`.
    public func route(_ message: KafkaMessage) -> Route {
        let envelope: MessageEnvelope
        do {
            envelope = try MessageEnvelope(headers: message.headers.map { ($0.name, $0.value ?? []) })
        } catch {
            return .deadLetter(reason: "bad CloudEvents headers: \(error)")
        }
        if let contentType = envelope.contentType, !envelope.isJSON {
            return .deadLetter(reason: "content-type \(contentType) is not JSON")
        }
        let source = "\(message.topic)/\(message.partition)/\(message.offset)"

        if let sagaId = envelope.sagaId {
            let payload: Payload
            do {
                if let type = envelope.sagaType {
                    guard let saga = registry.latest(named: type) else {
                        return .deadLetter(reason: "unknown saga type '\(type)' in ce_sagatype")
                    }
                    payload = try saga.decodePayload(messageType: envelope.type, json: message.value)
                } else {
                    payload = Payload(try JSONDecoder().decode(JSONValue.self, from: Data(message.value)))
                }
            } catch {
                return .deadLetter(reason: "payload of \(envelope.type) does not decode: \(error)")
            }
            return .work(
                SagaWork(
                    target: .saga(id: sagaId),
                    input: .message(IncomingMessage(envelope: envelope, payload: payload)),
                    inboxId: envelope.id, source: source, traceparent: envelope.traceparent
                )
            )
        }

        var decodeErrors: [String] = []
        for saga in registry.latestVersions {
            let payload: Payload
            do {
                payload = try saga.decodePayload(messageType: envelope.type, json: message.value)
            } catch {
                decodeErrors.append("\(saga.name): \(error)")
                continue
            }
            if let start = saga.startKey(messageType: envelope.type, topic: message.topic, payload: payload) {
                guard let key = start.businessKey, !key.isEmpty else {
                    return .deadLetter(reason: "\(envelope.type) starts \(saga.name) but carries no business key")
                }
                return .work(
                    SagaWork(
                        target: .start(sagaType: saga.name, sagaId: "\(saga.name):\(key)", businessKey: key),
                        input: .start(StartMessage(messageType: envelope.type, messageId: envelope.id, payload: payload)),
                        inboxId: envelope.id, source: source, traceparent: envelope.traceparent
                    )
                )
            }
            if let key = saga.correlationKey(messageType: envelope.type, payload: payload) {
                return .work(
                    SagaWork(
                        target: .correlated(sagaType: saga.name, key: key),
                        input: .message(IncomingMessage(envelope: envelope, payload: payload)),
                        inboxId: envelope.id, source: source, traceparent: envelope.traceparent
                    )
                )
            }
        }
        if !decodeErrors.isEmpty {
            return .deadLetter(reason: "payload of \(envelope.type) does not decode: \(decodeErrors.joined(separator: "; "))")
        }
        return .deadLetter(
            reason: "no saga takes \(envelope.type) on \(message.topic) without a ce_sagaid header"
        )
    }
}
