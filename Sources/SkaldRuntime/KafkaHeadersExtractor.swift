public import Tracing
public import SkaldKafka

/// Reads trace context from a Kafka message's headers, for `Instrument.extract`.
///
/// Skald's messages carry W3C trace context in a `traceparent` header (CloudEvents
/// binary mode); with this, whichever instrument is bootstrapped reads it:
///
/// ```swift
/// var context = ServiceContext.topLevel
/// InstrumentationSystem.instrument.extract(message.headers, into: &context, using: KafkaHeadersExtractor())
/// ```
///
/// Names match without regard to case, as W3C trace context asks of its carriers.
public struct KafkaHeadersExtractor: Extractor {
    /// Creates the extractor.
    public init() {}

    /// The value of the last header called `key`; nil when there is none or it has no value.
    public func extract(key: String, from carrier: KafkaHeaders) -> String? {
        // The last one wins, as the injector replaces rather than repeats a header.
        carrier.last { $0.name.utf8.count == key.utf8.count && $0.name.lowercased() == key.lowercased() }?.stringValue
    }
}
