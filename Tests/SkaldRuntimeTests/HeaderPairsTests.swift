import Foundation
import Skald
import SkaldKafka
@testable import SkaldRuntime
import Testing

@Suite struct HeaderPairsTests {
    @Test func parsesWhatPostgresPrintsForTheOutboxHeaders() throws {
        let text = #"[["ce_id", "PlaceOrder-1/pay/action/1"], ["ce_type", "com.example.Pay"], ["traceparent", "00-ab-cd-01"]]"#
        let headers = try HeaderPairs.parse(text)
        #expect(headers.map(\.name) == ["ce_id", "ce_type", "traceparent"])
        #expect(headers.map { $0.value.map { String(decoding: $0, as: UTF8.self) } } == ["PlaceOrder-1/pay/action/1", "com.example.Pay", "00-ab-cd-01"])
    }

    @Test func decodesEscapesLikeJSONDecoder() throws {
        let samples = [
            #"[["a\"b", "c\\d\/e\n\t\u00e9"]]"#,
            #"[["x", "\ud83d\ude00 surrogate pair"]]"#,
            #"[]"#,
            #" [ [ "k" , "v" ] ] "#,
        ]
        for text in samples {
            let expected = try JSONDecoder().decode([[String]].self, from: Data(text.utf8))
            let parsed = try HeaderPairs.parse(text)
            #expect(parsed.map(\.name) == expected.map { $0[0] })
            #expect(parsed.map { $0.value.map { String(decoding: $0, as: UTF8.self) } } == expected.map { $0[1] })
        }
    }

    @Test func readsRandomHeadersBackAsTheirBytes() throws {
        var generator = SystemRandomNumberGenerator()
        let alphabet: [Character] = ["a", "Z", "0", "-", "_", "/", ":", " ", "\"", "\\", "\n", "\t", "\u{01}", "\u{1F}", "é", "€", "😀", "\u{7F}"]
        func randomText() -> String {
            String((0..<Int.random(in: 0...24, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! })
        }
        for _ in 0..<500 {
            let pairs = (0..<Int.random(in: 0...10, using: &generator)).map { _ in [randomText(), randomText()] }
            // Both writers the outbox sees: Foundation's, and the pump's own (`JSONRecords`).
            var envelope = MessageEnvelope(id: "m", source: "s", type: "t")
            for pair in pairs where pair[0].hasPrefix("ce_") == false { envelope.extensions[pair[0]] = pair[1] }
            var bytes: [UInt8] = []
            JSONRecords.writeHeaderArray(of: envelope, into: &bytes)
            let written = String(decoding: bytes, as: UTF8.self)
            for text in [String(decoding: try JSONEncoder().encode(pairs), as: UTF8.self), written] {
                let expected = try JSONDecoder().decode([[String]].self, from: Data(text.utf8))
                let parsed = try HeaderPairs.parse(Array(text.utf8))
                #expect(parsed.map(\.name) == expected.map { $0[0] })
                #expect(parsed.map(\.value) == expected.map { Array($0[1].utf8) })
            }
        }
    }

    @Test func rejectsWhatIsNotAnArrayOfStringPairs() {
        for text in [#"{"a": "b"}"#, #"[["a", 1]]"#, #"[["a", "b"]"#, "", #"[["a","b"]] x"#] {
            #expect(throws: (any Error).self) { try HeaderPairs.parse(text) }
        }
    }

    @Test func pumpLanesKeepAPartitionOnOneLaneInOrder() async throws {
        let lanes = PumpLanes(count: 2, batchSize: 3)
        var messages: [KafkaMessage] = []
        for offset in 0..<10 {
            for partition in 0..<4 {
                messages.append(KafkaMessage(topic: "t", partition: Int32(partition), offset: Int64(offset), key: nil, value: [], headers: []))
            }
        }
        let feeder = Task {
            await lanes.feed(messages)
            lanes.finish()
        }
        let seen = await withTaskGroup(of: (Int, [Int32: [Int64]]).self) { group in
            for lane in 0..<2 {
                group.addTask {
                    var offsets: [Int32: [Int64]] = [:]
                    while let batch = await lanes.take(lane: lane) {
                        #expect(batch.count <= 3)
                        for message in batch { offsets[message.partition, default: []].append(message.offset) }
                    }
                    return (lane, offsets)
                }
            }
            var seen: [Int: [Int32: [Int64]]] = [:]
            for await (lane, offsets) in group { seen[lane] = offsets }
            return seen
        }
        await feeder.value
        let partitionsPerLane = seen.values.map { Set($0.keys) }
        #expect(partitionsPerLane.reduce(0) { $0 + $1.count } == 4)
        for (_, partitions) in seen {
            for (_, offsets) in partitions { #expect(offsets == Array(0..<10)) }
        }
    }
}
