import SkaldKafka
import Tracing

/// The `<topic> publish` spans of one ``OutboxRelay`` round: one producer span per
/// command, from the moment it is handed to the producer until its delivery report.
///
/// Each span's parent is the trace context the command was written with (the span of
/// the transition that decided it), and the command leaves with the publish span's
/// `traceparent` instead, so the participant's work hangs under the publish in the trace.
/// With no tracer bootstrapped the command's stored `traceparent` goes out unchanged
/// and nothing here allocates.
struct PublishSpans {
    private var spans: [any Span] = []

    /// Opens a span per message and points each message's `traceparent` at its span.
    init(publishing messages: inout [KafkaOutgoingMessage]) {
        guard let tracing = ActiveTracing.current else { return }
        spans.reserveCapacity(messages.count)
        for index in messages.indices {
            let message = messages[index]
            let parent = tracing.context(headers: message.headers) ?? .topLevel
            var attributes = SpanAttributes()
            attributes[SkaldTracing.Attribute.system] = "kafka"
            attributes[SkaldTracing.Attribute.operationType] = "send"
            attributes[SkaldTracing.Attribute.destination] = message.topic
            let extractor = KafkaHeadersExtractor()
            attributes[SkaldTracing.Attribute.messageId] = extractor.extract(key: "ce_id", from: message.headers)
            attributes[SkaldTracing.Attribute.sagaId] = extractor.extract(key: "ce_sagaid", from: message.headers)
            attributes[SkaldTracing.Attribute.sagaType] = extractor.extract(key: "ce_sagatype", from: message.headers)
            attributes[SkaldTracing.Attribute.step] = extractor.extract(key: "ce_sagastep", from: message.headers)
            let span = tracing.tracer.startSpan("\(message.topic) publish", context: parent, ofKind: .producer)
            span.attributes = attributes
            tracing.instrument.inject(span.context, into: &messages[index].headers, using: KafkaHeadersInjector())
            spans.append(span)
        }
    }

    /// Ends the spans with the delivery reports, in the order of the messages.
    func end(with results: [Result<KafkaDeliveryReport, KafkaError>]) {
        for (span, result) in zip(spans, results) {
            if case .failure(let error) = result {
                span.recordError(error)
                span.setStatus(SpanStatus(code: .error, message: "\(error)"))
            }
            span.end()
        }
    }

    /// Ends the spans: the batch could not be handed to the producer.
    func end(failing error: any Error) {
        for span in spans {
            span.recordError(error)
            span.setStatus(SpanStatus(code: .error, message: "\(error)"))
            span.end()
        }
    }
}
