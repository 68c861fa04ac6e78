public import Tracing
public import SkaldKafka

/// Writes trace context into a Kafka message's headers, for `Instrument.inject`.
///
/// ```swift
/// InstrumentationSystem.instrument.inject(span.context, into: &message.headers, using: KafkaHeadersInjector())
/// ```
///
/// A header of the same name (in any case) is replaced, so a message never carries two
/// `traceparent` values and the one the instrument writes is the one that travels.
public struct KafkaHeadersInjector: Injector {
    /// Creates the injector.
    public init() {}

    /// Sets header `key` to `value`, replacing any header of that name.
    public func inject(_ value: String, forKey key: String, into carrier: inout KafkaHeaders) {
        let name = key.lowercased()
        carrier.removeAll { $0.name.lowercased() == name }
        carrier.append(name: key, value: value)
    }
}
