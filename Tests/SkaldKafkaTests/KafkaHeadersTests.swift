import SkaldKafka
import Testing

/// `KafkaHeaders` packs names and values into one buffer; whatever it is built or edited by,
/// it must read back exactly as an array of `KafkaHeader` would.
@Suite struct KafkaHeadersTests {
    /// Random headers: names repeat and may be empty, values may be absent, empty, binary or UTF-8.
    static func randomHeaders(using generator: inout some RandomNumberGenerator) -> [KafkaHeader] {
        let names = ["", "ce_id", "ce_type", "traceparent", "X-Custom", "é-名", "ce_id"]
        return (0..<Int.random(in: 0...12, using: &generator)).map { _ in
            let name = names.randomElement(using: &generator)!
            switch Int.random(in: 0..<4, using: &generator) {
            case 0: return KafkaHeader(name: name, value: nil)
            case 1: return KafkaHeader(name: name, value: [])
            case 2: return KafkaHeader(name: name, value: (0..<Int.random(in: 1...40, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) })
            default: return KafkaHeader(name: name, value: "v-\(Int.random(in: 0...999, using: &generator))-ü")
            }
        }
    }

    /// Every header as `forEachRaw` sees it.
    static func raw(_ headers: KafkaHeaders) -> [KafkaHeader] {
        var seen: [KafkaHeader] = []
        headers.forEachRaw { name, value in
            seen.append(KafkaHeader(name: String(decoding: name, as: UTF8.self), value: value.map { Array($0) }))
        }
        return seen
    }

    @Test func readsBackAsTheHeadersItWasBuiltFrom() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let headers = Self.randomHeaders(using: &generator)
            let packed = KafkaHeaders(headers)
            #expect(Array(packed) == headers)
            #expect(Self.raw(packed) == headers)
            #expect(packed.count == headers.count && packed.isEmpty == headers.isEmpty)
            for name in ["", "ce_id", "traceparent", "absent"] {
                #expect(packed.first(named: name) == headers.first(named: name))
            }

            // Built header by header from bytes, it is the same value, with the same hash.
            var appended = KafkaHeaders()
            for header in headers {
                var name = header.name
                name.withUTF8 { name in
                    if let value = header.value {
                        value.withUnsafeBufferPointer { appended.append(name: name, value: $0) }
                    } else {
                        appended.append(name: name, value: nil)
                    }
                }
            }
            #expect(appended == packed)
            #expect(appended.hashValue == packed.hashValue)
        }
    }

    @Test func editsLikeAnArray() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<1_000 {
            let headers = Self.randomHeaders(using: &generator)
            let more = Self.randomHeaders(using: &generator)
            var array = headers
            var packed = KafkaHeaders(headers)

            let lower = Int.random(in: 0...array.count, using: &generator)
            let upper = Int.random(in: lower...array.count, using: &generator)
            array.replaceSubrange(lower..<upper, with: more)
            packed.replaceSubrange(lower..<upper, with: more)
            #expect(Array(packed) == array)
            #expect(packed == KafkaHeaders(array))

            array.removeAll { $0.name == "ce_id" }
            packed.removeAll { $0.name == "ce_id" }
            #expect(Array(packed) == array)
            #expect(packed == KafkaHeaders(array))

            array.append(KafkaHeader(name: "tail", value: "t"))
            packed.append(name: "tail", value: "t")
            #expect(Array(packed) == array)
            #expect(Array(packed + more) == array + more)
        }
    }

    @Test func differentHeadersAreNotEqual() {
        let base: KafkaHeaders = [KafkaHeader(name: "ab", value: "c")]
        // The same bytes split differently, an absent against an empty value, another order.
        #expect(base != [KafkaHeader(name: "a", value: "bc")])
        #expect(KafkaHeaders([KafkaHeader(name: "a", value: nil)]) != [KafkaHeader(name: "a", value: [])])
        #expect(
            KafkaHeaders([KafkaHeader(name: "a", value: "1"), KafkaHeader(name: "b", value: "2")])
                != [KafkaHeader(name: "b", value: "2"), KafkaHeader(name: "a", value: "1")])
        #expect(base.description == #"[ab: "c"]"#)
    }
}
