import Foundation
public import Skald
public import SkaldKafka

/// Turns a consumed Kafka message into work for one saga, or says why it cannot.
///
/// The registry decides what a message means to each saga type: a `ce_sagaid`
/// header names the instance; a start trigger starts one (its id derived from the
/// business key, so the same event delivered twice starts one saga); a step that
/// correlates the message type by a payload field finds the instance by business
/// key. A message no saga claims, or more than one claims, is a dead letter.
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
            envelope = try MessageEnvelope(kafkaHeaders: message.headers)
        } catch {
            return .deadLetter(reason: "bad CloudEvents headers: \(error)")
        }
        if let contentType = envelope.contentType, !envelope.isJSON {
            return .deadLetter(reason: "content-type \(contentType) is not JSON")
        }
        guard JSONSyntax.isValid(message.value) else {
            return .deadLetter(reason: "the payload of \(envelope.type) is not JSON")
        }
        let routes: [(definition: any RuntimeSagaDefinition, route: SagaRoute)]
        do {
            routes = try registry.route(topic: message.topic, envelope: envelope, payload: message.value)
        } catch {
            return .deadLetter(reason: "\(error)")
        }
        guard let (definition, route) = routes.first else {
            if let sagaType = envelope.sagaType, (try? registry.latest(name: sagaType)) == nil {
                return .deadLetter(reason: "unknown saga type '\(sagaType)' in ce_sagatype")
            }
            return .deadLetter(reason: "no saga takes \(envelope.type) on \(message.topic)")
        }
        guard routes.count == 1 else {
            let names = routes.map(\.definition.name).joined(separator: ", ")
            return .deadLetter(reason: "\(envelope.type) on \(message.topic) is claimed by several sagas (\(names))")
        }
        let source = "\(message.topic)/\(message.partition)/\(message.offset)"
        let target: SagaWork.Target
        let input: RuntimeInput
        switch route {
        case .start(let sagaId, let businessKey):
            target = .start(sagaType: definition.name, sagaId: sagaId, businessKey: businessKey)
            input = .start(envelope: envelope, payload: message.value)
        case .deliver(let sagaId):
            target = .saga(id: sagaId)
            input = .message(envelope: envelope, payload: message.value)
        case .correlate(let businessKey):
            target = .correlated(sagaType: definition.name, key: businessKey)
            input = .message(envelope: envelope, payload: message.value)
        }
        return .work(
            SagaWork(target: target, input: input, inboxId: envelope.id, source: source, traceparent: envelope.traceparent)
        )
    }
}
