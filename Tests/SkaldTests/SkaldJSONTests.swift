import Foundation
import Skald
import Testing

/// Dates in messages: Skald writes RFC 3339 text and reads it back, and still understands
/// the number Foundation's default `JSONEncoder` writes (a participant may use it).
@Suite struct SkaldJSONTests {
    struct Shipment: Codable, Equatable {
        var id: String
        var due: Date
        var delivered: Date?
    }

    @Test func datesRoundTripAsText() throws {
        let due = Timestamp.truncate(Date(timeIntervalSince1970: 1_800_000_000.123456))
        let shipment = Shipment(id: "s-1", due: due, delivered: nil)
        let bytes = try SkaldJSON.encode(shipment)
        #expect(String(decoding: bytes, as: UTF8.self) == #"{"due":"2027-01-15T08:00:00.123456Z","id":"s-1"}"#)
        #expect(try SkaldJSON.decode(Shipment.self, from: bytes) == shipment)
        // The runtime reads reply payloads the same way (through Payload's conversions).
        #expect(try Payload(shipment).decode(Shipment.self) == shipment)
    }

    @Test func foundationsDefaultDatesAreReadToo() throws {
        let shipment = Shipment(id: "s-2", due: Date(timeIntervalSinceReferenceDate: 812_345_678.5), delivered: Date(timeIntervalSinceReferenceDate: 1))
        let foundation = Array(try JSONEncoder().encode(shipment))
        #expect(try SkaldJSON.decode(Shipment.self, from: foundation) == shipment)
    }

    @Test func badDatesAndBadJSONAreClearErrors() {
        #expect(throws: DecodingError.self) { try SkaldJSON.decode(Shipment.self, from: Array(#"{"id":"x","due":"tomorrow"}"#.utf8)) }
        #expect(throws: DecodingError.self) { try SkaldJSON.decode(Shipment.self, from: Array(#"{"id":"x","#.utf8)) }
    }
}
