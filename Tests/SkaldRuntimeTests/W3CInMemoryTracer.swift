import InMemoryTracing
import SkaldRuntime
import Tracing
import W3CTraceContext

/// `InMemoryTracer` speaking W3C trace context, as a real tracer (swift-otel's) does: it
/// records spans in memory, reads a `traceparent` as the parent of the next span, and
/// writes its spans' ids back as `traceparent`. Trace and span ids are W3C ids (hex).
///
/// Scope it to one test with `withTracer(_:_:)`: the bootstrapped tracer is process-wide,
/// and the other tests run with the no-op one at the same time.
struct W3CInMemoryTracer: Tracer {
    /// The spans, as `InMemoryTracer` records them.
    let recorder = InMemoryTracer(
        idGenerator: InMemoryTracer.IDGenerator(
            nextTraceID: { TraceID.random().description },
            nextSpanID: { SpanID.random().description }
        )
    )

    /// The spans that ended so far.
    var finishedSpans: [FinishedInMemorySpan] { recorder.finishedSpans }

    func startSpan<Instant: TracerInstant>(
        _ operationName: String,
        context: @autoclosure () -> ServiceContext,
        ofKind kind: SpanKind,
        at instant: @autoclosure () -> Instant,
        function: String,
        file fileID: String,
        line: UInt
    ) -> InMemorySpan {
        recorder.startSpan(
            operationName, context: context(), ofKind: kind, at: instant(), function: function, file: fileID, line: line)
    }

    func activeSpan(identifiedBy context: ServiceContext) -> InMemorySpan? {
        recorder.activeSpan(identifiedBy: context)
    }

    func forceFlush() {}

    func extract<Carrier, Extract>(_ carrier: Carrier, into context: inout ServiceContext, using extractor: Extract)
    where Extract: Extractor, Extract.Carrier == Carrier {
        var w3c = ServiceContext.topLevel
        W3CTraceContextInstrument().extract(carrier, into: &w3c, using: extractor)
        guard let trace = w3c.w3cTraceContext else { return }
        context.inMemorySpanContext = InMemorySpanContext(
            traceID: trace.traceID.description, spanID: trace.spanID.description, parentSpanID: nil)
    }

    func inject<Carrier, Inject>(_ context: ServiceContext, into carrier: inout Carrier, using injector: Inject)
    where Inject: Injector, Inject.Carrier == Carrier {
        guard let span = context.inMemorySpanContext else { return }
        injector.inject("00-\(span.traceID)-\(span.spanID)-01", forKey: "traceparent", into: &carrier)
    }
}

extension FinishedInMemorySpan {
    /// A string attribute's value.
    func string(_ name: String) -> String? {
        guard case .string(let value) = attributes.get(name) else { return nil }
        return value
    }

    /// The `traceparent` that names this span.
    var traceparent: String { "00-\(traceID)-\(spanID)-01" }
}
