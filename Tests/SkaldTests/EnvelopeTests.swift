import Foundation
import Skald
import SkaldExamples
import Testing

@Suite struct EnvelopeTests {
    let time = Date(timeIntervalSince1970: 1_795_000_000.5)
    let trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    func headers(_ pairs: [(String, String)]) -> [(name: String, value: [UInt8])] {
        pairs.map { (name: $0.0, value: Array($0.1.utf8)) }
    }

    var minimal: [(String, String)] {
        [("ce_specversion", "1.0"), ("ce_id", "m-1"), ("ce_source", "//orders"), ("ce_type", "com.example.OrderCreated")]
    }

    @Test func roundTripsEveryAttribute() throws {
        let envelope = MessageEnvelope(
            id: "saga-1/create-order/action/1", source: "skald/PlaceOrder", type: CreateOrder.messageType, time: time,
            sagaId: "saga-1", sagaType: "PlaceOrder", sagaStep: "create-order", causationId: "start-1",
            traceparent: trace, extensions: ["tenant": "acme"])
        let written = envelope.headers()
        #expect(
            written.map(\.name) == [
                "ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "content-type", "ce_sagaid", "ce_sagatype",
                "ce_sagastep", "ce_causationid", "traceparent", "ce_tenant",
            ])
        #expect(String(decoding: written[4].value, as: UTF8.self) == "2026-11-18T11:06:40.500000Z")
        let read = try MessageEnvelope(headers: written)
        #expect(read == envelope)
        #expect(read.isJSON)
    }

    @Test func minimalEnvelopeFromASagaUnawareService() throws {
        let envelope = try MessageEnvelope(headers: headers(minimal + [("x-other", "kept out")]))
        #expect(envelope.sagaId == nil && envelope.time == nil && envelope.contentType == nil)
        #expect(envelope.isJSON)
        #expect(envelope.extensions.isEmpty)
    }

    @Test("header names are read whatever their case, an extension's name in lower case")
    func headerNamesInAnyCase() throws {
        let envelope = try MessageEnvelope(headers: headers([
            ("CE_SpecVersion", "1.0"), ("Ce_Id", "m-1"), ("ce_SOURCE", "//orders"), ("CE_TYPE", "com.example.OrderCreated"),
            ("Content-Type", "application/json"), ("ce_SagaId", "saga-1"), ("TraceParent", trace), ("CE_Tenant", "acme"),
            ("X-Other", "kept out"),
        ]))
        #expect(envelope.id == "m-1" && envelope.source == "//orders" && envelope.type == "com.example.OrderCreated")
        #expect(envelope.contentType == "application/json" && envelope.sagaId == "saga-1" && envelope.traceparent == trace)
        #expect(envelope.extensions == ["tenant": "acme"])
        // The same attribute twice, in two cases and with two values, is still a duplicate.
        do {
            _ = try MessageEnvelope(headers: headers(minimal + [("CE_ID", "m-2")]))
            Issue.record("accepted ce_id and CE_ID with different values")
        } catch {
            #expect(error.code == .duplicateHeader && error.header == "CE_ID")
        }
    }

    @Test func commandEnvelopeCarriesSagaAttributes() throws {
        var driver = Driver(placeOrder)
        try driver.start(PlaceOrderRequest(orderId: "o", customerId: "c", lines: [], amountCents: 1))
        let command = try #require(driver.commands.first)
        let envelope = command.envelope(source: "skald/PlaceOrder", time: time, traceparent: trace)
        #expect(envelope.id == "saga-1/create-order/action/1")
        #expect(envelope.sagaId == "saga-1" && envelope.sagaStep == "create-order" && envelope.sagaType == "PlaceOrder")
        #expect(envelope.causationId == "start-1")
        let reply = IncomingMessage(envelope: envelope, payload: Payload(OrderCreated(orderId: "o")))
        #expect(reply.causationId == "start-1" && reply.step == "create-order")
    }

    @Test(arguments: ["ce_specversion", "ce_id", "ce_source", "ce_type"])
    func missingRequiredHeader(_ name: String) throws {
        do {
            _ = try MessageEnvelope(headers: headers(minimal.filter { $0.0 != name }))
            Issue.record("accepted headers without \(name)")
        } catch {
            #expect(error.code == .missingHeader && error.header == name)
            #expect(error.description == "header \(name) is required (missing-header)")
        }
    }

    @Test func badHeaders() throws {
        func failure(_ pairs: [(String, String)]) -> EnvelopeError? {
            do {
                _ = try MessageEnvelope(headers: headers(pairs))
                return nil
            } catch {
                return error
            }
        }
        let version = failure(minimal.map { $0.0 == "ce_specversion" ? ($0.0, "0.3") : $0 })
        #expect(version?.description == "header ce_specversion is '0.3'; only 1.0 is supported (bad-header)")
        let time = failure(minimal + [("ce_time", "tuesday")])
        #expect(time?.code == .badHeader && time?.header == "ce_time")
        let empty = failure(minimal.map { $0.0 == "ce_id" ? ($0.0, "") : $0 })
        #expect(empty?.description == "header ce_id must not be empty (bad-header)")
        // A missing required attribute is reported before a bad time.
        let both = failure(minimal.filter { $0.0 != "ce_id" } + [("ce_time", "tuesday")])
        #expect(both?.code == .missingHeader && both?.header == "ce_id")
        let duplicate = failure(minimal + [("ce_id", "m-2")])
        #expect(duplicate?.code == .duplicateHeader)
        var notUTF8 = headers(minimal)
        notUTF8.append((name: "ce_sagaid", value: [0xff, 0xfe]))
        do {
            _ = try MessageEnvelope(headers: notUTF8)
            Issue.record("accepted a non-UTF-8 header")
        } catch {
            #expect(error.header == "ce_sagaid" && error.code == .badHeader)
        }
    }

    @Test func nonASCIIHeaderValuesAreKept() throws {
        // ASCII values take a shortcut; any other valid UTF-8 must come through unchanged.
        let envelope = try MessageEnvelope(headers: headers(minimal + [("ce_sagastep", "réserver-stock-📦"), ("ce_région", "Nord")]))
        #expect(envelope.sagaStep == "réserver-stock-📦")
        #expect(envelope.extensions["région"] == "Nord")
        var overlong = headers(minimal)
        overlong.append((name: "ce_sagastep", value: [0xC0, 0xAF]))  // an overlong "/", never valid UTF-8
        #expect(throws: EnvelopeError.self) { try MessageEnvelope(headers: overlong) }
    }

    @Test func malformedTraceparentIsDroppedNotFatal() throws {
        let envelope = try MessageEnvelope(headers: headers(minimal + [("traceparent", "garbage")]))
        #expect(envelope.traceparent == nil)
        let valid = try MessageEnvelope(headers: headers(minimal + [("traceparent", trace)]))
        #expect(valid.traceparent == trace)
    }

    @Test func contentTypes() throws {
        #expect(try MessageEnvelope(headers: headers(minimal + [("content-type", "application/json; charset=utf-8")])).isJSON)
        #expect(try MessageEnvelope(headers: headers(minimal + [("content-type", "application/cloudevents+json")])).isJSON)
        #expect(try !MessageEnvelope(headers: headers(minimal + [("content-type", "application/avro")])).isJSON)
        // The usual value, one shorter and one longer: each read back exactly.
        for value in ["application/json", "application/jso", "application/jsonx", "APPLICATION/JSON"] {
            #expect(try MessageEnvelope(headers: headers(minimal + [("content-type", value)])).contentType == value)
        }
        // Twice, the same or different: as for any attribute.
        #expect(try MessageEnvelope(headers: headers(minimal + [("content-type", "application/json"), ("Content-Type", "application/json")]))
            .contentType == "application/json")
        #expect(throws: EnvelopeError.self) {
            try MessageEnvelope(headers: headers(minimal + [("content-type", "application/json"), ("content-type", "text/plain")]))
        }
    }
}

@Suite struct CommandIdTests {
    @Test func idsRoundTrip() throws {
        let id = OutgoingCommand.id(sagaId: "tenant/42", step: "reserve-inventory", purpose: .compensation, attempt: 12)
        #expect(id == "tenant/42/reserve-inventory/compensation/12")
        let parsed = try #require(OutgoingCommand.parse(id: id))
        #expect(parsed.sagaId == "tenant/42" && parsed.step == "reserve-inventory")
        #expect(parsed.purpose == .compensation && parsed.attempt == 12)
        #expect(OutgoingCommand.parse(id: "s/step/action/1")?.purpose == .action)
    }

    @Test(arguments: ["", "a/b/c", "s/step/undo/1", "s/step/action/x", "s/step/action/", "s/step/actions/1", "////"])
    func garbageIsNotAnId(_ text: String) {
        #expect(OutgoingCommand.parse(id: text) == nil)
    }

    @Test func timerIdsAreDeterministic() {
        #expect(TimerKind.stepTimeout(step: "pay", attempt: 2).id(sagaId: "s-1") == "s-1/pay/step-timeout/2")
        #expect(TimerKind.deadline.id(sagaId: "s-1") == "s-1/deadline")
        #expect(TimerKind(name: "compensation-retry", step: "pay", attempt: 3) == .compensationRetry(step: "pay", attempt: 3))
        #expect(TimerKind(name: "step-retry", step: nil, attempt: 3) == nil)
    }
}
