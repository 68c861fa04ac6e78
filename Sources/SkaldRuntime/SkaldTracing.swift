import Tracing

/// Distributed tracing in Skald: what it records and how a deployment turns it on.
///
/// Skald records spans with swift-distributed-tracing and reads and writes the W3C
/// `traceparent` of its Kafka messages through `InstrumentationSystem.instrument`, so
/// it follows whichever tracer the process bootstraps:
///
/// ```swift
/// // swift-otel: spans exported over OTLP; its default propagator is W3C trace context.
/// let observability = try OTel.bootstrap()
/// let group = ServiceGroup(services: [observability, orchestrator], logger: logger)
/// ```
///
/// Spans (all with `skald.saga.id` and `skald.saga.type`):
/// - `saga.start` — ``Orchestrator/start(_:messageType:payload:idempotencyKey:traceparent:)``;
///   its parent is the caller's `traceparent`, or the task's current context.
/// - `<SagaType> <message type>` (a reply, an event, a start), `<SagaType> timer <kind>`,
///   `<SagaType> operator <action>` — one input applied to a saga, ended when its
///   transaction commits; its parent is the input's `traceparent`, or the one the saga
///   started with. Also `skald.step`, `messaging.message.id`, `messaging.destination.name`.
/// - `<topic> publish` (producer) — one command leaving the outbox; its parent is the
///   transition that decided the command, and the command goes out with this span's
///   `traceparent`, so every hop shows in the trace.
///
/// With no tracer bootstrapped (the default) none of this runs: one look-up per batch,
/// and commands carry the `traceparent` of the input that caused them, or the saga's.
public enum SkaldTracing {
    /// Bootstraps ``W3CTraceContextInstrument``: W3C trace context propagation through
    /// `InstrumentationSystem.instrument`, with no tracer and so no spans.
    ///
    /// Call it once, at start-up, in a process that has no tracer but whose code
    /// propagates through swift-distributed-tracing. With a tracer, bootstrap the tracer
    /// instead: it propagates trace context itself.
    public static func bootstrapW3C() {
        InstrumentationSystem.bootstrap(W3CTraceContextInstrument())
    }

    /// Span attribute names Skald sets.
    public enum Attribute {
        /// The saga id.
        public static let sagaId = "skald.saga.id"
        /// The saga type.
        public static let sagaType = "skald.saga.type"
        /// The step an input is about (or, for a start, the step the saga went on to).
        public static let step = "skald.step"
        /// What became of a transition: `applied`, or `rejected` when the saga refused it.
        public static let outcome = "skald.outcome"
        /// The CloudEvents id (`ce_id`) of a message.
        public static let messageId = "messaging.message.id"
        /// The Kafka topic.
        public static let destination = "messaging.destination.name"
        /// `kafka`.
        public static let system = "messaging.system"
        /// `process` for a consumed message, `send` for a published command.
        public static let operationType = "messaging.operation.type"
    }
}
