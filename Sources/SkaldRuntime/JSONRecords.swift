import Foundation
import Skald
import SkaldPostgres

/// Builds a JSON array of records or strings: a saga's steps, an outbox row's headers, and the
/// id lists and key records of the statements that still take a JSON bind (the locked path's
/// reads, timers, dead letters, projections' reads).
///
/// The batch writes bind binary column arrays instead (``PostgresArrayWriter``), which
/// Postgres reads without lexing a document (docs/benchmarks-orchestrator.md, session 13).
struct JSONRecords {
    private(set) var bytes: [UInt8]
    private(set) var count = 0
    private var fieldsInRecord = 0

    init() {
        bytes = [UInt8(ascii: "[")]
    }

    /// A writer whose buffer ``write(into:_:)`` lends it.
    private init(borrowing buffer: inout [UInt8]) {
        bytes = []
        swap(&bytes, &buffer)
    }

    /// Starts a record (a JSON object).
    mutating func beginRecord() {
        if count > 0 { bytes.append(UInt8(ascii: ",")) }
        bytes.append(UInt8(ascii: "{"))
        count += 1
        fieldsInRecord = 0
    }

    /// Ends the current record.
    mutating func endRecord() {
        bytes.append(UInt8(ascii: "}"))
    }

    /// A string field (or null).
    mutating func field(_ name: StaticString, _ value: String?) {
        key(name)
        if let value { appendString(value) } else { appendNull() }
    }

    /// An integer field (or null).
    mutating func field(_ name: StaticString, _ value: Int?) {
        key(name)
        if let value { appendInteger(value) } else { appendNull() }
    }

    /// A time field, as ``Timestamp/format(_:)`` writes it, without a string in between.
    mutating func field(_ name: StaticString, time: Date) {
        key(name)
        bytes.append(UInt8(ascii: "\""))
        Timestamp.append(time, to: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    /// A field whose value is already JSON (an event body, a payload).
    mutating func field(_ name: StaticString, json: [UInt8]) {
        key(name)
        bytes.append(contentsOf: json)
    }

    /// Writes a JSON array at the end of `buffer`, whose bytes stay where they are: records
    /// built straight into a column array's element (``PostgresArrayWriter/appendText(writing:)``).
    static func write(into buffer: inout [UInt8], _ body: (inout JSONRecords) -> Void) {
        var records = JSONRecords(borrowing: &buffer)
        records.bytes.append(UInt8(ascii: "["))
        body(&records)
        records.bytes.append(UInt8(ascii: "]"))
        swap(&records.bytes, &buffer)
    }

    /// `[[name, value], …]` of `envelope`'s headers, an outbox row's `headers` value, appended to
    /// `buffer`; `each` sees every header written.
    ///
    /// `each` is not optional: an optional closure escapes, and what it captured (the outbox's
    /// Kafka headers) would live in a heap box checked for exclusive access on every header.
    static func writeHeaderArray(
        of envelope: MessageEnvelope, into buffer: inout [UInt8], each: (_ name: String, _ value: String) -> Void = { _, _ in }
    ) {
        write(into: &buffer) { writer in
            var first = true
            envelope.forEachHeader { name, value in
                writer.appendPair(name, value, first: first)
                first = false
                each(name, value)
            }
        }
    }

    /// `[[name, value], …]` from `pairs`.
    static func headerArray(_ pairs: KeyValuePairs<String, String>) -> [UInt8] {
        var writer = JSONRecords()
        for (index, pair) in pairs.enumerated() {
            writer.appendPair(pair.key, pair.value, first: index == 0)
        }
        return writer.closedBytes
    }

    private mutating func appendPair(_ name: String, _ value: String, first: Bool) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        bytes.append(UInt8(ascii: "["))
        appendString(name)
        bytes.append(UInt8(ascii: ","))
        appendString(value)
        bytes.append(UInt8(ascii: "]"))
    }

    /// The finished array, as the text of a `jsonb` bind.
    var text: String {
        String(decoding: closedBytes, as: UTF8.self)
    }

    /// The finished array as a statement's parameter, without a detour through `String`.
    var value: PostgresValue {
        PostgresValue(textBytes: closedBytes)
    }

    /// The finished array's bytes, to embed in another document.
    var closedBytes: [UInt8] {
        var closed = bytes
        closed.append(UInt8(ascii: "]"))
        return closed
    }

    /// A JSON array of strings, for `IN (SELECT jsonb_array_elements_text($1))`.
    static func array(_ values: some Sequence<String>) -> String {
        var writer = JSONRecords()
        var first = true
        for value in values {
            if !first { writer.bytes.append(UInt8(ascii: ",")) }
            first = false
            writer.appendString(value)
        }
        return writer.text
    }

    /// Builds one JSON object with keys known only at run time (`{"saga-1": 4, …}`).
    struct ObjectWriter {
        private var writer = JSONRecords()
        private var empty = true

        init() {}

        /// An integer member.
        mutating func field(_ name: String, _ value: Int) {
            if !empty { writer.bytes.append(UInt8(ascii: ",")) }
            empty = false
            writer.appendString(name)
            writer.bytes.append(UInt8(ascii: ":"))
            writer.appendInteger(value)
        }

        /// The finished object.
        var text: String {
            String(decoding: closedBytes, as: UTF8.self)
        }

        /// The finished object as a statement's parameter.
        var value: PostgresValue {
            PostgresValue(textBytes: closedBytes)
        }

        private var closedBytes: [UInt8] {
            if empty { return [UInt8(ascii: "{"), UInt8(ascii: "}")] }
            var bytes = writer.bytes
            bytes[0] = UInt8(ascii: "{")  // in place of the array bracket JSONRecords starts with
            bytes.append(UInt8(ascii: "}"))
            return bytes
        }
    }

    private mutating func key(_ name: StaticString) {
        if fieldsInRecord > 0 { bytes.append(UInt8(ascii: ",")) }
        fieldsInRecord += 1
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    private mutating func appendNull() {
        bytes.append(UInt8(ascii: "n"))
        bytes.append(UInt8(ascii: "u"))
        bytes.append(UInt8(ascii: "l"))
        bytes.append(UInt8(ascii: "l"))
    }

    /// Decimal digits without the `String` that `description` would allocate for large values.
    private mutating func appendInteger(_ value: Int) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for 20 digits
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[23 - count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                count += 1
            } while magnitude > 0
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[(24 - count)...]))
        }
    }

    private mutating func appendString(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        // A native string's bytes are read where they are; `withUTF8` alone would need a `var`
        // copy, retained and released around every string written.
        if value.utf8.withContiguousStorageIfAvailable({ appendEscaped($0) }) == nil {
            var value = value
            value.withUTF8 { appendEscaped($0) }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// Appends `utf8` escaped as a JSON string's contents.
    private mutating func appendEscaped(_ utf8: UnsafeBufferPointer<UInt8>) {
        // Most values (ids, names, timestamps) need no escaping: copy runs of plain bytes at once.
        var runStart = 0
        for index in utf8.indices {
            let byte = utf8[index]
            guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
            runStart = index + 1
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): bytes.append(contentsOf: #"\\"#.utf8)
            case 0x0A: bytes.append(contentsOf: #"\n"#.utf8)
            case 0x0D: bytes.append(contentsOf: #"\r"#.utf8)
            case 0x09: bytes.append(contentsOf: #"\t"#.utf8)
            default:
                let hex: StaticString = "0123456789abcdef"
                bytes.append(contentsOf: #"\u00"#.utf8)
                hex.withUTF8Buffer { digits in
                    bytes.append(digits[Int(byte >> 4)])
                    bytes.append(digits[Int(byte & 0x0F)])
                }
            }
        }
        bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...]))
    }
}
