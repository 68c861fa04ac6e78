import Skald
import Tracing

/// The spans of one ``SagaProcessor`` transaction: one per input applied to a saga,
/// opened before `decide` and ended when the transaction commits (or fails).
///
/// Each span's parent is the input's trace context, or the trace the saga started with
/// when the input has none (a timer, an operator, a participant that does not propagate
/// it); the commands the input causes carry the span's `traceparent`. With no tracer
/// bootstrapped every method returns at once and nothing is allocated.
struct TransitionSpans {
    private let tracing: ActiveTracing?
    private var open: [any Span] = []

    /// Looks the tracer up once for the whole batch.
    init() {
        tracing = ActiveTracing.current
    }

    /// Whether a tracer is bootstrapped: without one, ``start(_:sagaId:sagaType:sagaTrace:)``
    /// need not be called (its input would be copied out of the batch for nothing).
    var isTracing: Bool { tracing != nil }

    /// Opens the span of `item` applied to saga `sagaId`; nil when no tracer is bootstrapped.
    mutating func start(_ item: SagaWork, sagaId: String, sagaType: String, sagaTrace: String?) -> (any Span)? {
        guard let tracing else { return nil }
        // A traceparent the instrument cannot read is ignored: the saga's own trace, else a new one.
        let parent =
            tracing.context(traceparent: item.traceparent) ?? tracing.context(traceparent: sagaTrace) ?? .topLevel
        var attributes = SpanAttributes()
        attributes[SkaldTracing.Attribute.sagaId] = sagaId
        attributes[SkaldTracing.Attribute.sagaType] = sagaType
        let name: String
        switch item.input {
        case .start(let envelope, _), .message(let envelope, _):
            name = "\(sagaType) \(envelope.type)"
            attributes[SkaldTracing.Attribute.messageId] = envelope.id
            attributes[SkaldTracing.Attribute.step] = envelope.sagaStep
        case .timer(let kind):
            name = "\(sagaType) timer \(kind.name)"
            attributes[SkaldTracing.Attribute.step] = kind.step
        case .operatorCommand(let command):
            name = "\(sagaType) operator \(command.action.rawValue)"
            attributes[SkaldTracing.Attribute.step] = command.step
        }
        // A consumed message's source is `topic/partition/offset` (topic names have no '/').
        let topic = item.source.firstIndex(of: "/").map { item.source[..<$0] }
        if let topic {
            attributes[SkaldTracing.Attribute.destination] = String(topic)
            attributes[SkaldTracing.Attribute.system] = "kafka"
            attributes[SkaldTracing.Attribute.operationType] = "process"
        }
        let span = tracing.tracer.startSpan(name, context: parent, ofKind: topic == nil ? .internal : .consumer)
        span.attributes = attributes
        open.append(span)
        return span
    }

    /// The input of `span` was applied: every command of `decision` goes out with the
    /// span's `traceparent`, which is returned (nil without a tracer).
    func applied(_ span: (any Span)?, decision: inout RuntimeDecision) -> String? {
        guard let tracing, let span else { return nil }
        span.updateAttributes { attributes in
            attributes[SkaldTracing.Attribute.outcome] = "applied"
            if attributes[SkaldTracing.Attribute.step] == nil {
                attributes[SkaldTracing.Attribute.step] = decision.snapshot.currentStep
            }
        }
        guard let traceparent = tracing.traceparent(of: span.context) else { return nil }
        for index in decision.commands.indices {
            decision.commands[index].envelope.traceparent = traceparent
        }
        return traceparent
    }

    /// The saga refused the input of `span`.
    func rejected(_ span: (any Span)?, error: any Error) {
        guard let span else { return }
        span.attributes[SkaldTracing.Attribute.outcome] = "rejected"
        span.recordError(error)
        span.setStatus(SpanStatus(code: .error, message: "\(error)"))
    }

    /// Ends every span: the transaction committed, or failed with `error`.
    mutating func end(failing error: (any Error)? = nil) {
        for span in open {
            if let error {
                span.recordError(error)
                span.setStatus(SpanStatus(code: .error, message: "the transaction did not commit: \(error)"))
            }
            span.end()
        }
        open.removeAll()
    }
}
