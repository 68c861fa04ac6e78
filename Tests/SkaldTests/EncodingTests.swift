import Foundation
import Skald
import SkaldExamples
import SkaldTestSupport
import Testing

@Suite struct EncodingTests {
    func fixtureLines(_ name: String) throws -> [[UInt8]] {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: "jsonl"))
        let text = try String(contentsOf: url, encoding: .utf8)
        return text.split(separator: "\n").map { Array($0.utf8) }
    }

    @Test func storedFixtureHasEveryEventTypeAndStillDecodes() throws {
        let lines = try fixtureLines("events-v1") + fixtureLines("events-v1-operator")
        let events = try lines.map { try SagaEvent.decode(jsonBytes: $0) }
        #expect(Set(events.map(\.kind.typeName)) == Set(SagaEvent.Kind.allTypeNames))
        #expect(SagaEvent.Kind.allTypeNames.count == 22)
        // Writing them again gives the very same bytes: the on-disk form has not drifted.
        for (line, event) in zip(lines, events) {
            #expect(try event.jsonBytes() == line, "\(String(decoding: line, as: UTF8.self))")
        }
    }

    @Test func storedFixtureFoldsWithTypedPayloads() throws {
        let events = try placeOrder.decodeEvents(fixtureLines("events-v1"))
        guard case .stepSucceeded(_, _, _, _, let payload) = events[7].kind else {
            Issue.record("event 8 should be step.succeeded")
            return
        }
        #expect(payload.value is InventoryReserved)
        let instance = try placeOrder.fold(sagaId: "saga-1", events: events)
        #expect(instance.status == .compensated)
        #expect(instance.data?.reservationId == "r-9")
        #expect(instance.data?.failure == "card expired")
        #expect(instance.steps[1].compensation == .done)
        #expect(instance.steps[0].compensation == .skippedByOperator)
        #expect(instance.completionOrder == [0, 1])
        let final = try placeOrder.fold(sagaId: "saga-1", events: events + [])
        #expect(final == instance)
    }

    @Test func withoutDefinitionPayloadsAreJSON() throws {
        let lines = try fixtureLines("events-v1")
        let event = try SagaEvent.decode(jsonBytes: lines[2])
        guard case .stepSucceeded(let step, let attempt, _, _, let payload) = event.kind else {
            Issue.record("expected step.succeeded")
            return
        }
        #expect(step.name == "create-order" && step.index == -1 && attempt == 1)
        #expect(payload.value is JSONValue)
        #expect(try payload.decode(OrderCreated.self).orderId == "o-1")
        // Folding generically decoded events gives the same state as typed ones.
        let generic = try lines.map { try SagaEvent.decode(jsonBytes: $0) }
        let typed = try placeOrder.decodeEvents(lines)
        #expect(try placeOrder.fold(sagaId: "s", events: generic) == placeOrder.fold(sagaId: "s", events: typed))
    }

    @Test func liveEventsRoundTrip() throws {
        var driver = Driver(placeOrder)
        try driver.start(PlaceOrderRequest(orderId: "o-2", customerId: "c", lines: [], amountCents: 5))
        try driver.reply("create-order", OrderCreated(orderId: "o-2"))
        try driver.reply("reserve-inventory", OutOfStock(orderId: "o-2", sku: "x"))
        try driver.reply("create-order", OrderCancelled(orderId: "o-2"), .compensation)
        try driver.reply("create-order", OrderCancelled(orderId: "o-2"), .compensation)
        let stored = try driver.events.map { try $0.jsonBytes() }
        let decoded = try placeOrder.decodeEvents(stored)
        #expect(decoded == driver.events)
        #expect(try placeOrder.fold(sagaId: "saga-1", events: decoded) == driver.instance)
    }

    @Test func unknownTypeIsAClearError() throws {
        let bytes = Array(#"{"schema":1,"type":"step.teleported","sequence":1,"time":"2026-11-25T18:00:00Z"}"#.utf8)
        do {
            _ = try SagaEvent.decode(jsonBytes: bytes)
            Issue.record("decoded an unknown type")
        } catch {
            #expect("\(error)".contains("unknown saga event type 'step.teleported'"))
        }
        #expect(throws: SagaError.self) { try placeOrder.decodeEvents([bytes]) }
    }

    @Test func newerSchemaIsAClearError() throws {
        let bytes = Array(#"{"schema":2,"type":"saga.completed","sequence":1,"time":"2026-11-25T18:00:00Z"}"#.utf8)
        do {
            _ = try SagaEvent.decode(jsonBytes: bytes)
            Issue.record("decoded a future schema")
        } catch {
            #expect("\(error)".contains("saga event schema 2 is not supported"))
        }
    }

    @Test func badTimeAndMissingFieldsAreErrors() throws {
        let badTime = Array(#"{"schema":1,"type":"saga.completed","sequence":1,"time":"yesterday"}"#.utf8)
        #expect(throws: DecodingError.self) { try SagaEvent.decode(jsonBytes: badTime) }
        let missing = Array(#"{"schema":1,"type":"step.timed-out","sequence":1,"time":"2026-11-25T18:00:00Z"}"#.utf8)
        #expect(throws: DecodingError.self) { try SagaEvent.decode(jsonBytes: missing) }
        #expect(throws: (any Error).self) { try SagaEvent.decode(jsonBytes: Array("not json".utf8)) }
    }

    @Test func foldRejectsLogsThatDoNotFit() throws {
        let lines = try fixtureLines("events-v1")
        let events = try placeOrder.decodeEvents(lines)
        #expect(throws: SagaError.self) { try placeOrder.fold(sagaId: "s", events: events.dropFirst()) }
        var gap = events
        gap.remove(at: 3)
        #expect(throws: SagaError.self) { try placeOrder.fold(sagaId: "s", events: gap) }
        let other = SagaDefinition("Other", state: PlaceOrderState.self) {
            Step("x", kind: .retriable) {
                Command(to: "t") { _ in Ping() }
                OnSuccess(Pong.self)
            }
        }
        #expect(throws: SagaError.self) { try other.fold(sagaId: "s", events: events) }
    }

    @Test func timeTravel() throws {
        let events = try placeOrder.decodeEvents(fixtureLines("events-v1"))
        let early = try placeOrder.state(sagaId: "s", events: events, at: 3)
        #expect(early.lastSequence == 3)
        #expect(early.status == .running)
        #expect(early.steps[0].phase == .succeeded)
        let beforeFailure = try placeOrder.state(sagaId: "s", events: events, at: 9)
        #expect(beforeFailure.steps[2].phase == .running)
        #expect(beforeFailure.data?.failure == nil)
        #expect(try placeOrder.state(sagaId: "s", events: events, at: 0).status == .notStarted)
    }

    @Test func timestampsFormatDigitByDigitAsBefore() {
        // The former implementation, built from padded pieces, as the reference.
        func reference(_ date: Date) -> String {
            let totalMicros = Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
            var seconds = totalMicros / 1_000_000
            var micros = totalMicros % 1_000_000
            if micros < 0 {
                micros += 1_000_000
                seconds -= 1
            }
            var days = seconds / 86_400
            var secondOfDay = seconds % 86_400
            if secondOfDay < 0 {
                secondOfDay += 86_400
                days -= 1
            }
            let z = days + 719_468
            let era = (z >= 0 ? z : z - 146_096) / 146_097
            let doe = z - era * 146_097
            let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
            let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
            let mp = (5 * doy + 2) / 153
            let day = doy - (153 * mp + 2) / 5 + 1
            let month = mp < 10 ? mp + 3 : mp - 9
            let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
            func pad(_ value: Int64, _ width: Int) -> String {
                let text = String(value)
                return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
            }
            return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(secondOfDay / 3600, 2)):"
                + "\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2)).\(pad(micros, 6))Z"
        }
        var random = SplitMix64(seed: 42)
        var dates = [-62_167_219_200, -62_167_219_200.000001, 253_402_300_799.999999, 253_402_300_800, -1e12, 1e12, 0, -0.5e-6]
            .map { Date(timeIntervalSince1970: $0) }
        for _ in 0..<20_000 {
            let micros = Int64(bitPattern: random.next()) % 400_000_000_000_000_000
            dates.append(Date(timeIntervalSince1970: Double(micros) / 1_000_000))
        }
        for date in dates {
            #expect(Timestamp.format(date) == reference(date), "\(date.timeIntervalSince1970)")
            // Appended to bytes already there, the same text, and nothing else disturbed.
            var bytes = Array("x:".utf8)
            Timestamp.append(date, to: &bytes)
            #expect(bytes == Array("x:\(reference(date))".utf8), "\(date.timeIntervalSince1970)")
        }
    }

    @Test func timestampsRoundTripAtMicroseconds() throws {
        let date = Date(timeIntervalSince1970: 1_795_000_000.123456)
        let text = Timestamp.format(date)
        #expect(text == "2026-11-18T11:06:40.123456Z")
        #expect(Timestamp.parse(text) == Timestamp.truncate(date))
        #expect(Timestamp.parse("2026-11-18T12:06:40.123456+01:00") == Timestamp.parse(text))
        #expect(Timestamp.parse("2026-11-18T11:06:40Z") == Date(timeIntervalSince1970: 1_795_000_000))
        #expect(Timestamp.parse("2026-11-18T11:06:40.1234567891Z") == Timestamp.parse("2026-11-18T11:06:40.123456Z"))
        #expect(Timestamp.format(Date(timeIntervalSince1970: -1)) == "1969-12-31T23:59:59.000000Z")
        for bad in ["", "2026-13-01T00:00:00Z", "2026-11-18 09:46", "2026-11-18T09:46:40", "2026-11-18T09:46:40.Z", "x"] {
            #expect(Timestamp.parse(bad) == nil, "\(bad)")
        }
    }
}
