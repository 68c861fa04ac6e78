public import Tracing
public import W3CTraceContext

/// Propagates W3C trace context (`traceparent`, `tracestate`) through
/// swift-distributed-tracing without a tracer: ``SkaldTracing/bootstrapW3C()``.
///
/// `extract` parses the headers (swift-w3c-trace-context) into
/// `ServiceContext.w3cTraceContext`; a missing or malformed
/// `traceparent` leaves the context as it was, as the W3C specification asks (the
/// receiver starts a new trace, the message is not refused). `inject` writes it back.
///
/// For a process with no tracer whose code still propagates through
/// `InstrumentationSystem.instrument` — a participant service copying a command's trace
/// context onto its reply with ``KafkaHeadersExtractor`` and ``KafkaHeadersInjector``, say.
/// A real tracer (swift-otel's, for one) propagates W3C trace context itself; bootstrap
/// that instead, not both.
public struct W3CTraceContextInstrument: Instrument {
    /// The header that carries the trace and parent span ids.
    public static let traceParentHeader = "traceparent"
    /// The header that carries vendor-specific trace state.
    public static let traceStateHeader = "tracestate"

    /// Creates the instrument.
    public init() {}

    /// Reads `traceparent` (and `tracestate`) from `carrier` into `context`; ignores them when malformed.
    public func extract<Carrier, Extract>(
        _ carrier: Carrier, into context: inout ServiceContext, using extractor: Extract
    ) where Extract: Extractor, Extract.Carrier == Carrier {
        guard let traceParent = extractor.extract(key: Self.traceParentHeader, from: carrier) else { return }
        let traceState = extractor.extract(key: Self.traceStateHeader, from: carrier)
        if let traceContext = try? TraceContext(traceParentHeaderValue: traceParent, traceStateHeaderValue: traceState) {
            context.w3cTraceContext = traceContext
        } else if let traceContext = try? TraceContext(traceParentHeaderValue: traceParent) {
            // A bad `tracestate` must not cost the trace: the specification drops only the state.
            context.w3cTraceContext = traceContext
        }
    }

    /// Writes the context's `traceparent` (and `tracestate`, when there is state) into `carrier`.
    public func inject<Carrier, Inject>(
        _ context: ServiceContext, into carrier: inout Carrier, using injector: Inject
    ) where Inject: Injector, Inject.Carrier == Carrier {
        guard let traceContext = context.w3cTraceContext else { return }
        injector.inject(traceContext.traceParentHeaderValue, forKey: Self.traceParentHeader, into: &carrier)
        if let traceState = traceContext.traceStateHeaderValue {
            injector.inject(traceState, forKey: Self.traceStateHeader, into: &carrier)
        }
    }
}

extension ServiceContext {
    /// The W3C trace context ``W3CTraceContextInstrument`` extracted, if any.
    public var w3cTraceContext: TraceContext? {
        get { self[W3CTraceContextKey.self] }
        set { self[W3CTraceContextKey.self] = newValue }
    }
}

private enum W3CTraceContextKey: ServiceContextKey {
    typealias Value = TraceContext
    static var nameOverride: String? { "w3c-trace-context" }
}
