import Foundation
import Skald
import Synchronization
import Testing

/// How often any `CountedState` was encoded.
private let stateEncodings = Mutex(0)

/// A saga state that counts its encodings.
private struct CountedState: Codable, Sendable, Equatable {
    var id: String
    var note: String?

    private enum CodingKeys: String, CodingKey { case id, note }

    init(id: String) { self.id = id }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        note = try container.decodeIfPresent(String.self, forKey: .note)
    }

    func encode(to encoder: any Encoder) throws {
        stateEncodings.withLock { $0 += 1 }
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encodeIfPresent(note, forKey: .note)
    }
}

private struct CountedStart: SagaMessage { var id: String }

/// `one` takes its reply without an update, `two` notes something in the state.
private let counted = SagaDefinition("Counted", state: CountedState.self) {
    Step("one", kind: .pivot) {
        Command(to: "svc.commands") { _ in Ping() }
        OnSuccess(Pong.self)
    }
    Step("two", kind: .retriable) {
        Command(to: "svc.commands") { _ in Ping() }
        OnSuccess(Pong.self) { state, _ in state.note = "two" }
    }
}
.startedBy(command: CountedStart.self) { CountedState(id: $0.id) }

/// A reply declared without an update closure leaves the state as it was, so the snapshot
/// reuses the state's encoding instead of encoding it again; one with an update encodes it.
@Suite struct ReplyWithoutUpdateTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test("a reply without an update encodes no state; one with an update encodes it once")
    func encodingsPerReply() throws {
        var registry = SagaRegistry()
        try registry.register(counted)
        let definition = try registry.latest(name: "Counted")
        let sagaId = "Counted-1"

        let start = try definition.decide(
            definition.newInstance(sagaId: sagaId),
            .start(
                envelope: MessageEnvelope(id: "start-1", source: "test", type: CountedStart.messageType, time: now),
                payload: Array(try JSONEncoder().encode(CountedStart(id: "c1")))),
            now: now)
        func reply(to decision: RuntimeDecision, id: String) throws -> RuntimeDecision {
            let command = try #require(decision.commands.first)
            let envelope = MessageEnvelope(
                id: id, source: "test", type: Pong.messageType, time: now, sagaId: sagaId, sagaType: "Counted",
                sagaStep: command.envelope.sagaStep, causationId: command.id)
            return try definition.decide(
                decision.instance, .message(envelope: envelope, payload: Array(try JSONEncoder().encode(Pong()))), now: now)
        }

        let beforeOne = stateEncodings.withLock { $0 }
        let one = try reply(to: start, id: "pong-1")
        #expect(stateEncodings.withLock { $0 } == beforeOne, "a reply without an update encoded the state")
        #expect(one.snapshot.state == start.snapshot.state)
        #expect(one.snapshot.currentStep == "two")

        let beforeTwo = stateEncodings.withLock { $0 }
        let two = try reply(to: one, id: "pong-2")
        #expect(stateEncodings.withLock { $0 } == beforeTwo + 1)
        #expect(String(decoding: two.snapshot.state, as: UTF8.self) == #"{"id":"c1","note":"two"}"#)
        #expect(two.snapshot.status == .completed)

        // Whatever the runtime kept, the snapshots are those a fresh fold of the log gives.
        let fresh = try definition.snapshot(of: definition.load(sagaId: sagaId, events: start.events + one.events + two.events))
        #expect(fresh == two.snapshot)
    }
}
