import Foundation
import SkaldKafka
import Testing

/// Messages are held by one reference and copied on write: each copy must still behave as a
/// value of its own.
@Suite struct KafkaMessageValueTests {
    static let consumed = KafkaMessage(
        topic: "orders.commands-with-a-long-name", partition: 3, offset: 42, key: Array("k".utf8), value: Array("{}".utf8),
        headers: [KafkaHeader(name: "ce_id", value: "m-1")], timestamp: Date(timeIntervalSince1970: 1_800_000_000))

    @Test func aChangedCopyLeavesTheOriginalAsItWas() {
        let original = Self.consumed
        var changed = original
        #expect(changed == original)
        changed.headers.append(KafkaHeader(name: "skald_dlq_reason", value: "why"))
        changed.value = []
        changed.topic = "other"
        changed.partition = 0
        changed.offset = 7
        changed.key = nil
        changed.timestamp = nil
        #expect(original == Self.consumed)
        #expect(original.headers.count == 1 && original.valueString == "{}" && original.topic == "orders.commands-with-a-long-name")
        #expect(original.partition == 3 && original.offset == 42 && original.keyString == "k" && original.timestamp != nil)
        #expect(changed.headers.count == 2 && changed.value.isEmpty && changed.topic == "other")
        #expect(changed.partition == 0 && changed.offset == 7 && changed.key == nil && changed.timestamp == nil)
        #expect(changed != original)
    }

    @Test func describedByWhatItHoldsNotByItsBox() {
        #expect(
            Self.consumed.description
                == #"KafkaMessage(orders.commands-with-a-long-name/3/42, key: "k", value: "{}", headers: [ce_id: "m-1"])"#)
        let outgoing = KafkaOutgoingMessage(topic: "t", partition: 1, key: nil, value: String(repeating: "x", count: 201))
        #expect(outgoing.description.hasPrefix("KafkaOutgoingMessage(t/1, key: nil, value: \"xxx"))
        #expect(outgoing.description.hasSuffix("\"… (201 bytes), headers: [])"))
    }

    @Test func equalMessagesBuiltApartAreEqualAndHashAlike() {
        let again = KafkaMessage(
            topic: "orders.commands-with-a-long-name", partition: 3, offset: 42, key: Array("k".utf8), value: Array("{}".utf8),
            headers: [KafkaHeader(name: "ce_id", value: "m-1")], timestamp: Date(timeIntervalSince1970: 1_800_000_000))
        #expect(again == Self.consumed)
        #expect(Set([again, Self.consumed]).count == 1)

        var outgoing = KafkaOutgoingMessage(topic: "t", key: "k", value: "v", headers: [KafkaHeader(name: "a", value: "1")])
        let kept = outgoing
        outgoing.headers.removeAll { $0.name == "a" }
        outgoing.partition = 2
        #expect(kept.headers.count == 1 && kept.partition == nil)
        #expect(outgoing.headers.isEmpty && outgoing.partition == 2)
        #expect(kept == KafkaOutgoingMessage(topic: "t", key: "k", value: "v", headers: [KafkaHeader(name: "a", value: "1")]))
        #expect(Set([kept, outgoing]).count == 2)
    }
}
