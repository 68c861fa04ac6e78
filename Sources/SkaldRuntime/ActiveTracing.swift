import SkaldKafka
import Tracing

/// The tracer and instrument in force, looked up once per unit of work (a batch, a relay
/// round, a start): nil when no tracer is bootstrapped, so the hot path pays one look-up
/// per batch and allocates nothing per message.
struct ActiveTracing: Sendable {
    let tracer: any Tracer
    let instrument: any Instrument

    /// The tracing in force for the current task (a `withTracer` scope, else the bootstrapped one).
    static var current: ActiveTracing? {
        let tracer = InstrumentationSystem.tracer
        if tracer is NoOpTracer { return nil }
        return ActiveTracing(tracer: tracer, instrument: InstrumentationSystem.instrument)
    }

    /// The context `headers` carry; nil when the instrument finds none there (absent or malformed).
    func context(headers: KafkaHeaders) -> ServiceContext? {
        var context = ServiceContext.topLevel
        instrument.extract(headers, into: &context, using: KafkaHeadersExtractor())
        return context.isEmpty ? nil : context
    }

    /// The context a `traceparent` value carries; nil when absent or malformed.
    func context(traceparent: String?) -> ServiceContext? {
        guard let traceparent else { return nil }
        return context(headers: [KafkaHeader(name: W3CTraceContextInstrument.traceParentHeader, value: traceparent)])
    }

    /// The `traceparent` the instrument writes for `context` (a span's, to hand on to what it causes).
    func traceparent(of context: ServiceContext) -> String? {
        var headers = KafkaHeaders()
        instrument.inject(context, into: &headers, using: KafkaHeadersInjector())
        return KafkaHeadersExtractor().extract(key: W3CTraceContextInstrument.traceParentHeader, from: headers)
    }
}
