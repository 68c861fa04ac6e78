public import Skald
public import SkaldKafka

extension MessageEnvelope {
    /// Reads the envelope from a consumed message's headers where they lie, without a
    /// string or an array for each header (``MessageEnvelope/HeaderReader``).
    ///
    /// The errors are those of ``MessageEnvelope/init(headers:)``: a missing or malformed
    /// attribute, a value that is not UTF-8, a header twice with different values.
    public init(kafkaHeaders headers: KafkaHeaders) throws(EnvelopeError) {
        var reader = HeaderReader()
        var failure: EnvelopeError?
        headers.forEachRaw { name, value in
            guard failure == nil else { return }
            do throws(EnvelopeError) {
                try reader.read(name: name, value: value)
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        self = try reader.envelope()
    }
}

extension KafkaHeaders {
    /// The Kafka headers of `envelope`, in the order of ``MessageEnvelope/headers()``,
    /// written straight into one buffer.
    public init(_ envelope: MessageEnvelope) {
        self.init()
        // A command's or reply's eleven headers take about 300 bytes.
        reserveCapacity(headers: 12, bytes: 384)
        envelope.forEachHeader { name, value in append(name: name, value: value) }
    }
}
