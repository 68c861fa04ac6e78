import Foundation
import SkaldTestSupport
import Testing

@testable import Skald

/// Stored events are compared and replayed byte for byte, so the direct writer
/// (`SagaEvent+CanonicalJSON.swift`) must write exactly what `encode(to:)` writes
/// through `JSONCoding`, which in turn is Foundation's `JSONEncoder`.
@Suite struct SagaEventEncodingTests {
    /// A random event of kind number `kind` (0..<22, in `allTypeNames` order).
    func event(kind: Int, _ generator: inout SampleGenerator) -> SagaEvent {
        func step() -> StepRef { StepRef(name: generator.string(), index: generator.random.below(9)) }
        func attempt() -> Int { generator.random.chance(10) ? generator.integer(Int.self) : generator.random.below(9) + 1 }
        func text() -> String { generator.string() }
        func maybe<T>(_ make: () -> T) -> T? { generator.random.chance(30) ? nil : make() }
        func payload() -> Payload {
            switch generator.random.below(3) {
            case 0: Payload(generator.json(depth: 3))
            case 1: Payload(generator.record(depth: 2))
            default: Payload(generator.sample(depth: 3))
            }
        }
        let made: SagaEvent.Kind
        switch kind {
        case 0: made = .started(trigger: text(), state: payload(), deadline: maybe { generator.date() })
        case 1: made = .stepCommandSent(step: step(), attempt: attempt(), commandId: text())
        case 2: made = .stepSucceeded(step: step(), attempt: maybe(attempt), reply: text(), messageId: text(), payload: payload())
        case 3: made = .stepFailed(step: step(), attempt: maybe(attempt), reply: text(), messageId: text(), payload: payload())
        case 4: made = .stepTimedOut(step: step(), attempt: attempt())
        case 5: made = .stepRetryScheduled(step: step(), attempt: attempt(), due: generator.date())
        case 6: made = .stepSkipped(step: step(), reason: .condition)
        case 7: made = .stepSkippedByOperator(step: step(), actor: text())
        case 8:
            made = .compensationStarted(
                reason: generator.random.pick([.stepFailed, .stepTimedOut, .deadlineExceeded, .aborted]), step: maybe(step))
        case 9: made = .compensationSent(step: step(), attempt: attempt(), commandId: text())
        case 10: made = .compensationSucceeded(step: step(), attempt: maybe(attempt), reply: text(), messageId: text())
        case 11: made = .compensationFailed(step: step(), attempt: attempt(), reply: maybe(text))
        case 12: made = .compensationRetryScheduled(step: step(), attempt: attempt(), due: generator.date())
        case 13: made = .compensationSkippedByOperator(step: step(), actor: text())
        case 14: made = .completed
        case 15: made = .compensated
        case 16: made = .failedNeedsOperator(step: step(), compensating: generator.random.chance(50), reason: text())
        case 17: made = .abortRequested(actor: text(), reason: text())
        case 18: made = .retryRequested(step: step(), compensating: generator.random.chance(50), actor: text())
        case 19:
            made = .operatorCommandRejected(
                action: generator.random.pick([.abort, .retry, .skip]), actor: text(), step: maybe(text), reason: text())
        case 20: made = .deadlineExceeded
        default:
            made = .inputIgnored(
                messageType: text(), messageId: maybe(text), step: maybe(text), causationId: maybe(text), reason: text())
        }
        let sequence = generator.random.chance(10) ? generator.integer(Int.self) : generator.random.below(1_000) + 1
        return SagaEvent(sequence: sequence, time: generator.date(), kind: made)
    }

    @Test func everyKindIsGenerated() {
        var generator = SampleGenerator(seed: 1)
        let names = (0..<22).map { event(kind: $0, &generator).kind.typeName }
        #expect(names == SagaEvent.Kind.allTypeNames)
    }

    @Test(arguments: 0..<22)
    func randomEventsEncodeAsTheirCodableForm(kind: Int) throws {
        var direct = 0
        for seed in 0..<300 {
            var generator = SampleGenerator(seed: UInt64(kind * 1_000 + seed))
            let event = event(kind: kind, &generator)
            let codable = Result { try event.codableJSONBytes() }
            let foundation = Result { Array(try JSONCoding.foundationEncoder().encode(event)) }
            if let bytes = event.directJSONBytes() {
                direct += 1
                #expect(
                    (try? codable.get()) == bytes,
                    "seed \(seed): \(event)\ndirect:  \(String(decoding: bytes, as: UTF8.self))\ncodable: \((try? codable.get()).map { String(decoding: $0, as: UTF8.self) } ?? "threw")")
                #expect((try? foundation.get()) == bytes, "seed \(seed): Foundation differs")
            }
            // The public entry point: the same bytes, or an error where encode(to:) throws one.
            switch (Result { try event.jsonBytes() }, codable) {
            case (.success(let ours), .success(let expected)): #expect(ours == expected, "seed \(seed)")
            case (.failure, .failure): break
            case (let ours, let expected): Issue.record("seed \(seed): jsonBytes \(ours), encode(to:) \(expected)")
            }
        }
        // Payloads that throw (non-finite numbers) take the Codable path; most events must not.
        #expect(direct > 200, "only \(direct) of 300 events took the direct path")
    }

    @Test func aPayloadThatThrowsIsReportedAsBefore() {
        let event = SagaEvent(
            sequence: 1, time: Date(timeIntervalSince1970: 0),
            kind: .stepSucceeded(
                step: StepRef(name: "pay", index: 0), attempt: 1, reply: "Paid", messageId: "m", payload: Payload(Double.nan)))
        #expect(event.directJSONBytes() == nil)
        #expect(throws: EncodingError.self) { try event.jsonBytes() }
    }
}
