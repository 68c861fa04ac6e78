import Foundation
import InMemoryTracing
import Skald
import SkaldKafka
import SkaldRuntime
import SkaldTestSupport
import Testing
import Tracing
import W3CTraceContext

/// Spans and W3C trace context along whole sagas. Each test scopes its own tracer with
/// `withTracer`, so the tests run side by side with the others, which see no tracer.
@Suite("Distributed tracing over the Kafka mock and a real Postgres")
struct TracingTests {
    static let traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
    /// The trace context of the caller that starts the saga.
    static let caller = "00-\(traceID)-00f067aa0ba902b7-01"

    @Test("one trace from the start request through every transition, command and reply, each hop a span")
    func oneTraceAcrossEveryHop() async throws {
        let tracer = W3CInMemoryTracer()
        let participants = TransferParticipants(tracesReplies: true)
        let sagaId = "Transfer-traced"
        var storedTrace: [String] = []
        try await withTracer(tracer) {
            try await withTransferSystem(participants: participants) { orchestrator, url, _ in
                let started = try await orchestrator.start(
                    "Transfer",
                    input: StartTransfer(transferId: "traced", amount: 1, declineDebit: false, declineCredit: false),
                    idempotencyKey: "traced", traceparent: Self.caller)
                #expect(started == sagaId)
                try await eventually("the traced saga completes and its last transition span ends") {
                    try await TestPostgres.strings(url, "SELECT status FROM sagas WHERE saga_id = \(sagaId)") == ["completed"]
                        && transitionSpans(of: sagaId, in: tracer).count == 4
                }
                storedTrace = try await TestPostgres.strings(url, "SELECT traceparent FROM sagas WHERE saga_id = \(sagaId)")
            }
        }
        let spans = tracer.finishedSpans
        let start = try #require(spans.first { $0.operationName == "saga.start" })
        let transitions = transitionSpans(of: sagaId, in: tracer)
        let publishes = spans.filter { $0.kind == .producer && $0.string(SkaldTracing.Attribute.sagaId) == sagaId }
        let handled = spans.filter { $0.operationName.hasSuffix(" process") }
        #expect(transitions.map(\.operationName) == [
            "Transfer \(StartTransfer.messageType)", "Transfer \(Debited.messageType)",
            "Transfer \(Credited.messageType)", "Transfer \(Notified.messageType)",
        ])
        #expect(publishes.map(\.operationName) == [
            "\(TransferTopics.debits) publish", "\(TransferTopics.credits) publish", "\(TransferTopics.notifications) publish",
        ])
        #expect(handled.count == 3)
        guard transitions.count == 4, publishes.count == 3, handled.count == 3 else { return }

        // One trace: the caller's.
        for span in [start] + transitions + publishes + handled {
            #expect(span.traceID == Self.traceID, "\(span.operationName)")
        }
        // Parent and child, hop by hop: caller → saga.start → transition → publish → participant → transition …
        #expect(start.parentSpanID == "00f067aa0ba902b7")
        #expect(transitions[0].parentSpanID == start.spanID)
        for index in 0..<3 {
            #expect(publishes[index].parentSpanID == transitions[index].spanID)
            #expect(handled[index].parentSpanID == publishes[index].spanID)
            #expect(transitions[index + 1].parentSpanID == handled[index].spanID)
        }
        // The commands on Kafka carry the context of their publish span.
        #expect(participants.traceparent(sagaId: sagaId, command: Debit.messageType) == publishes[0].traceparent)
        #expect(participants.traceparent(sagaId: sagaId, command: Credit.messageType) == publishes[1].traceparent)
        #expect(participants.traceparent(sagaId: sagaId, command: Notify.messageType) == publishes[2].traceparent)
        // The saga keeps the context of its first transition for inputs that carry none.
        #expect(storedTrace == [transitions[0].traceparent])

        // Attributes.
        #expect(start.string(SkaldTracing.Attribute.sagaType) == "Transfer")
        #expect(start.string(SkaldTracing.Attribute.sagaId) == sagaId)
        for transition in transitions {
            #expect(transition.string(SkaldTracing.Attribute.sagaType) == "Transfer")
            #expect(transition.string(SkaldTracing.Attribute.outcome) == "applied")
            #expect(transition.string(SkaldTracing.Attribute.messageId) != nil)
        }
        #expect(transitions[0].kind == .internal)
        #expect(transitions[0].string(SkaldTracing.Attribute.messageId) == "start:\(sagaId)")
        #expect(transitions[0].string(SkaldTracing.Attribute.step) == "debit")
        #expect(transitions[1].kind == .consumer)
        #expect(transitions[1].string(SkaldTracing.Attribute.destination) == "skald.replies")
        #expect(transitions[1].string(SkaldTracing.Attribute.step) == "debit")
        #expect(transitions[1].string(SkaldTracing.Attribute.messageId)?.hasPrefix("reply:") == true)
        #expect(transitions[3].string(SkaldTracing.Attribute.step) == "notify")
        #expect(publishes[0].string(SkaldTracing.Attribute.destination) == TransferTopics.debits)
        #expect(publishes[0].string(SkaldTracing.Attribute.step) == "debit")
        #expect(publishes[0].string(SkaldTracing.Attribute.messageId)?.hasPrefix(sagaId) == true)
        for span in spans { #expect(span.status?.code != .error, "\(span.operationName)") }
    }

    @Test("replies and timers without trace context go on in the trace the saga started")
    func timersAndBareRepliesStayInTheSagaTrace() async throws {
        let tracer = W3CInMemoryTracer()
        let participants = TransferParticipants(silentFor: [Credit.messageType])
        let sagaId = "Transfer-slow-traced"
        try await withTracer(tracer) {
            try await withTransferSystem(definition: transferSaga(stepTimeout: .milliseconds(300)), participants: participants) {
                orchestrator, url, _ in
                try await orchestrator.start(
                    "Transfer", input: StartTransfer(transferId: "slow-traced", amount: 5, declineDebit: false, declineCredit: false),
                    idempotencyKey: "slow-traced", traceparent: Self.caller)
                try await eventually("the step times out and the saga ends") {
                    let status = try await TestPostgres.strings(url, "SELECT status FROM sagas WHERE saga_id = \(sagaId)")
                    return status.first.map { $0 != "running" && $0 != "compensating" } ?? false
                }
                // Credit's timeout, or debit's when the participants join the group late.
                try await eventually("a timeout's transition span ends") {
                    transitionSpans(of: sagaId, in: tracer).contains(where: isTimeout)
                }
            }
        }
        let transitions = transitionSpans(of: sagaId, in: tracer)
        let first = try #require(transitions.first)
        #expect(first.operationName == "Transfer \(StartTransfer.messageType)")
        #expect(transitions.contains { $0.operationName == "Transfer \(Debited.messageType)" })
        for transition in transitions {
            #expect(transition.traceID == Self.traceID, "\(transition.operationName)")
        }
        // Neither the bare reply nor the timer has context of its own: both hang under the saga's.
        for transition in transitions.dropFirst() {
            #expect(transition.parentSpanID == first.spanID, "\(transition.operationName)")
        }
        let timer = try #require(transitions.first(where: isTimeout))
        #expect(timer.kind == .internal)
        #expect(["debit", "credit"].contains(timer.string(SkaldTracing.Attribute.step) ?? "none"))
        let publishes = tracer.finishedSpans.filter { $0.kind == .producer && $0.string(SkaldTracing.Attribute.sagaId) == sagaId }
        #expect(publishes.count >= 2)
        for publish in publishes { #expect(publish.traceID == Self.traceID) }
    }

    @Test("a malformed traceparent header is ignored: the saga starts a new trace and the message is applied")
    func malformedTraceparentStartsANewTrace() async throws {
        let tracer = W3CInMemoryTracer()
        let participants = TransferParticipants()
        // Not trace context at all (the envelope drops it); and one the envelope keeps but the
        // W3C parser refuses (version 00 allows no fifth field).
        let malformed = ["garbled": "not-a-traceparent", "extended": "\(Self.caller)-extra"]
        try await withTracer(tracer) {
            try await withTransferSystem(participants: participants) { _, url, cluster in
                let producer = try KafkaProducer(configuration: mockKafka(cluster), logger: runtimeTestLogger)
                defer { Task { await producer.shutdown() } }
                var messages: [KafkaOutgoingMessage] = []
                for (name, traceparent) in malformed {
                    let envelope = MessageEnvelope(
                        id: "start-\(name)", source: "test", type: StartTransfer.messageType, sagaId: "Transfer-\(name)")
                    let payload = try JSONEncoder().encode(
                        StartTransfer(transferId: name, amount: 1, declineDebit: false, declineCredit: false))
                    messages.append(
                        KafkaOutgoingMessage(
                            topic: "skald.replies", key: Array(name.utf8), value: Array(payload),
                            headers: KafkaHeaders(envelope)
                                + [KafkaHeader(name: "traceparent", value: traceparent)]))
                }
                for result in try await producer.send(messages) { _ = try result.get() }
                for name in malformed.keys {
                    try await eventually("the saga started with a malformed traceparent completes") {
                        try await TestPostgres.strings(url, "SELECT status FROM sagas WHERE saga_id = \("Transfer-\(name)")")
                            == ["completed"]
                            && transitionSpans(of: "Transfer-\(name)", in: tracer).count == 4
                    }
                }
            }
        }
        for name in malformed.keys {
            let sagaId = "Transfer-\(name)"
            let transitions = transitionSpans(of: sagaId, in: tracer)
            let first = try #require(transitions.first)
            // A new trace, whose root is the start's transition.
            #expect(first.parentSpanID == nil)
            #expect(first.traceID != Self.traceID)
            #expect(first.kind == .consumer)
            #expect(first.string(SkaldTracing.Attribute.messageId) == "start-\(name)")
            for transition in transitions { #expect(transition.traceID == first.traceID, "\(sagaId)") }
            let sent = participants.traceparent(sagaId: sagaId, command: Debit.messageType)
            #expect(sent?.hasPrefix("00-\(first.traceID)-") == true, "\(sent ?? "none")")
        }
    }

    @Test("W3C trace context through Kafka headers: extracted, injected, malformed values ignored")
    func w3cPropagation() throws {
        let instrument = W3CTraceContextInstrument()
        var context = ServiceContext.topLevel
        instrument.extract(
            [KafkaHeader(name: "ce_id", value: "x"), KafkaHeader(name: "TraceParent", value: Self.caller),
             KafkaHeader(name: "tracestate", value: "vendor=value")],
            into: &context, using: KafkaHeadersExtractor())
        let trace = try #require(context.w3cTraceContext)
        #expect(trace.traceID.description == Self.traceID)
        #expect(trace.spanID.description == "00f067aa0ba902b7")
        #expect(trace.flags.contains(.sampled))

        var headers: KafkaHeaders = [KafkaHeader(name: "ce_id", value: "x"), KafkaHeader(name: "traceparent", value: "old")]
        instrument.inject(context, into: &headers, using: KafkaHeadersInjector())
        #expect(headers.filter { $0.name == "traceparent" }.map(\.stringValue) == [Self.caller])
        #expect(headers.first { $0.name == "tracestate" }?.stringValue == "vendor=value")
        #expect(headers.first { $0.name == "ce_id" }?.stringValue == "x")

        for bad in ["", "garbage", "\(Self.caller)-extra", "00-\(String(repeating: "0", count: 32))-00f067aa0ba902b7-01",
                    "00-\(Self.traceID.uppercased())-00f067aa0ba902b7-01"] {
            var untouched = ServiceContext.topLevel
            instrument.extract([KafkaHeader(name: "traceparent", value: bad)], into: &untouched, using: KafkaHeadersExtractor())
            #expect(untouched.w3cTraceContext == nil, "\(bad)")
        }
        // A bad tracestate costs only the state.
        var stateless = ServiceContext.topLevel
        instrument.extract(
            [KafkaHeader(name: "traceparent", value: Self.caller), KafkaHeader(name: "tracestate", value: "=,=")],
            into: &stateless, using: KafkaHeadersExtractor())
        #expect(stateless.w3cTraceContext?.traceID.description == Self.traceID)
    }
}

/// Whether `span` is the transition of a step's timeout.
private func isTimeout(_ span: FinishedInMemorySpan) -> Bool {
    span.operationName == "Transfer timer step-timeout"
}

/// The transition spans of saga `sagaId`, in the order they ended.
private func transitionSpans(of sagaId: String, in tracer: W3CInMemoryTracer) -> [FinishedInMemorySpan] {
    tracer.finishedSpans.filter {
        $0.string(SkaldTracing.Attribute.sagaId) == sagaId && $0.operationName.hasPrefix("Transfer ")
    }
}
