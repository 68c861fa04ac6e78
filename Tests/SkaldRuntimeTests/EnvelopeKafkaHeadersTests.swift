import Foundation
import Skald
import SkaldKafka
import SkaldRuntime
import Testing

/// A consumed message's envelope is read from its packed headers in place; it must be
/// the envelope, or the error, that reading the same headers as strings and arrays gives.
@Suite struct EnvelopeKafkaHeadersTests {
    static let trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    /// The envelope or the error of each way of reading `headers`.
    static func bothReadings(_ headers: [KafkaHeader]) -> (packed: Result<MessageEnvelope, EnvelopeError>, pairs: Result<MessageEnvelope, EnvelopeError>) {
        let packed = Result { () throws(EnvelopeError) in try MessageEnvelope(kafkaHeaders: KafkaHeaders(headers)) }
        let pairs = Result { () throws(EnvelopeError) in try MessageEnvelope(headers: headers.map { ($0.name, $0.value ?? []) }) }
        return (packed, pairs)
    }

    @Test func anEnvelopeWrittenAsKafkaHeadersReadsBackTheSame() throws {
        var generator = SystemRandomNumberGenerator()
        for index in 0..<500 {
            func maybe(_ text: String) -> String? { Bool.random(using: &generator) ? text : nil }
            let envelope = MessageEnvelope(
                id: "saga-\(index)/step/action/1", source: "skald/PlaceOrder", type: "com.example.Reserve",
                time: maybe("t").map { _ in Date(timeIntervalSince1970: 1_795_000_000 + Double(index) * 0.001) },
                sagaId: maybe("PlaceOrder-\(index)"), sagaType: maybe("PlaceOrder"), sagaStep: maybe("réserver-📦"),
                causationId: maybe("cause-\(index)"), traceparent: maybe(Self.trace),
                extensions: Bool.random(using: &generator) ? ["tenant": "acme-\(index)", "région": "Nord"] : [:])
            let headers = KafkaHeaders(envelope)
            #expect(Array(headers).map(\.name) == envelope.headers().map(\.name))
            #expect(Array(headers).map(\.value) == envelope.headers().map(\.value))
            #expect(try MessageEnvelope(kafkaHeaders: headers) == envelope)
        }
    }

    @Test func badHeadersGetTheSameErrorEitherWay() {
        let minimal = [
            KafkaHeader(name: "ce_specversion", value: "1.0"), KafkaHeader(name: "ce_id", value: "m-1"),
            KafkaHeader(name: "ce_source", value: "//orders"), KafkaHeader(name: "ce_type", value: "com.example.OrderCreated"),
        ]
        let cases: [[KafkaHeader]] = [
            minimal,
            Array(minimal.dropFirst()),
            minimal + [KafkaHeader(name: "ce_time", value: "tuesday")],
            minimal + [KafkaHeader(name: "CE_ID", value: "m-2")],
            minimal + [KafkaHeader(name: "ce_tenant", value: "a"), KafkaHeader(name: "CE_Tenant", value: "b")],
            minimal + [KafkaHeader(name: "ce_sagaid", value: [0xFF, 0xFE])],
            minimal + [KafkaHeader(name: "ce_région", value: [0xC0, 0xAF])],
            minimal + [KafkaHeader(name: "ce_sagaid", value: nil), KafkaHeader(name: "traceparent", value: "garbage")],
            minimal.map { $0.name == "ce_id" ? KafkaHeader(name: "ce_id", value: nil) : $0 },
            minimal + [KafkaHeader(name: "TraceParent", value: Self.trace), KafkaHeader(name: "X-Other", value: [0xFF])],
        ]
        for headers in cases {
            let (packed, pairs) = Self.bothReadings(headers)
            switch (packed, pairs) {
            case (.success(let a), .success(let b)): #expect(a == b)
            case (.failure(let a), .failure(let b)): #expect(a == b)
            default: Issue.record("the two readings of \(headers) disagree: \(packed) against \(pairs)")
            }
        }
        // The errors themselves, read from packed headers: which check failed, on which header
        // (as the message spelled it).
        func failure(_ headers: [KafkaHeader]) -> (EnvelopeError.Code, String)? {
            guard case .failure(let error) = Self.bothReadings(headers).packed else { return nil }
            return (error.code, error.header)
        }
        #expect(failure(cases[1]) ?? (.badHeader, "") == (.missingHeader, "ce_specversion"))
        #expect(failure(cases[2]) ?? (.missingHeader, "") == (.badHeader, "ce_time"))
        #expect(failure(cases[3]) ?? (.badHeader, "") == (.duplicateHeader, "CE_ID"))
        #expect(failure(cases[4]) ?? (.badHeader, "") == (.duplicateHeader, "CE_Tenant"))
        #expect(failure(cases[5]) ?? (.missingHeader, "") == (.badHeader, "ce_sagaid"))
        #expect(failure(cases[8]) ?? (.missingHeader, "") == (.badHeader, "ce_id"))
        #expect(failure(cases[0]) == nil && failure(cases[7]) == nil && failure(cases[9]) == nil)
    }
}
