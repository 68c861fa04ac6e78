public import Foundation

/// A one-dimensional Postgres array in binary format, built one element at a time.
///
/// The orchestrator writes a batch's rows with one statement per table, one array per
/// column: `INSERT … SELECT * FROM unnest($1::text[], $2::integer[], …)`. Postgres reads
/// each element with its type's binary `recv` function (copying text after an encoding check,
/// validating each `json` element once). A JSON document of the same rows
/// (`json_to_recordset`) is lexed whole when the parameter is received, again record by
/// record, and each of its JSON columns once more: in the orchestrator benchmark that was
/// two fifths of Postgres's CPU (docs/benchmarks-orchestrator.md, session 13).
///
/// A connection prepares a statement text once and keeps the parameter types of that first
/// use, so bind each `$n` of a text with the same element type every time.
///
/// Elements are NULL or of the writer's ``Element`` type. A value the array cannot hold
/// (text with a NUL byte, a number out of the element's range, an element of another type)
/// is remembered, and the statement that binds ``value`` fails with that reason before
/// anything is sent.
public struct PostgresArrayWriter: Sendable {
    /// The element types the writer encodes.
    public enum Element: Sendable, Hashable {
        /// `text`: UTF-8 without NUL.
        case text
        /// `json`: UTF-8 JSON text, which the server validates.
        case json
        /// `smallint`
        case int2
        /// `integer`
        case int4
        /// `bigint`
        case int8
        /// `timestamptz`, from a `Date`, rounded to the nearest microsecond.
        case timestamptz
        /// `boolean`
        case bool

        /// The element type.
        public var dataType: PostgresDataType {
            switch self {
            case .text: .text
            case .json: .json
            case .int2: .int2
            case .int4: .int4
            case .int8: .int8
            case .timestamptz: .timestamptz
            case .bool: .bool
            }
        }

        /// The array type (`text[]` for `.text`, …).
        public var arrayType: PostgresDataType {
            switch self {
            case .text: .textArray
            case .json: .jsonArray
            case .int2: .int2Array
            case .int4: .int4Array
            case .int8: .int8Array
            case .timestamptz: .timestamptzArray
            case .bool: .boolArray
            }
        }
    }

    /// The header of a one-dimensional array: dimensions, null flag, element type, length,
    /// lower bound. Written at the start and kept current as elements are added, so ``value``
    /// hands over the buffer as it is, without copying the elements.
    private static let headerSize = 20
    /// Offsets of the header's null flag and length.
    private static let nullFlagOffset = 4, lengthOffset = 12
    /// Microseconds from 1970-01-01 to 2000-01-01, Postgres's epoch for timestamps.
    private static let postgresEpochMicros: Int64 = 946_684_800_000_000

    /// The element type.
    public let element: Element
    /// Elements appended so far.
    public private(set) var count = 0
    private var bytes: [UInt8]
    private var failure: String?

    /// An empty array of `element`s; `capacity` is the expected size in bytes of its elements.
    public init(of element: Element, capacity: Int = 0) {
        self.element = element
        bytes = []
        bytes.reserveCapacity(Self.headerSize + capacity)
        for word in [1, 0, element.dataType.oid, 0, 1] { Self.appendBigEndian(UInt32(word), to: &bytes) }
    }

    /// Appends SQL NULL.
    public mutating func appendNull() {
        append(length: -1)
        storeHeaderWord(1, at: Self.nullFlagOffset)
        counted()
    }

    /// Appends a `text` or `json` element, or NULL.
    public mutating func append(_ value: String?) {
        guard var value else { return appendNull() }
        value.withUTF8 { appendText(UnsafeRawBufferPointer($0)) }
    }

    /// Appends a `text` or `json` element from its UTF-8 bytes (a JSON document as written).
    public mutating func append(utf8 value: [UInt8]) {
        value.withUnsafeBytes { appendText($0) }
    }

    /// Appends a `text` or `json` element that `write` appends, as UTF-8, to the end of the
    /// buffer it is given: the array's own, so a document built element by element is neither
    /// allocated apart nor copied in afterwards.
    ///
    /// `write` must only append. Text with a NUL byte is refused as ``append(utf8:)`` refuses it.
    public mutating func appendText(writing write: (inout [UInt8]) -> Void) {
        guard element == .text || element == .json else { return fail("a string is not a \(element.dataType)") }
        let lengthAt = bytes.count
        append(length: 0)
        write(&bytes)
        let length = bytes.count - lengthAt - 4
        let hasNul = bytes.withUnsafeBytes { memchr($0.baseAddress! + lengthAt + 4, 0, length) != nil }
        if hasNul {
            bytes.removeSubrange(lengthAt...)
            return fail("contains a NUL byte, which \(element.dataType) cannot hold")
        }
        bytes.withUnsafeMutableBytes {
            $0.storeBytes(of: UInt32(length).bigEndian, toByteOffset: lengthAt, as: UInt32.self)
        }
        counted()
    }

    /// Appends an integer element (`smallint`, `integer` or `bigint`), or NULL.
    public mutating func append(_ value: Int?) {
        guard let value else { return appendNull() }
        switch element {
        case .int2:
            guard let narrow = Int16(exactly: value) else { return fail("\(value) does not fit a smallint") }
            append(length: 2)
            appendBigEndian(UInt16(bitPattern: narrow))
        case .int4:
            guard let narrow = Int32(exactly: value) else { return fail("\(value) does not fit an integer") }
            append(length: 4)
            appendBigEndian(UInt32(bitPattern: narrow))
        case .int8:
            append(length: 8)
            appendBigEndian(UInt64(bitPattern: Int64(value)))
        default:
            return fail("an integer is not a \(element.dataType)")
        }
        counted()
    }

    /// Appends a `timestamptz` element, or NULL.
    public mutating func append(_ value: Date?) {
        guard let value else { return appendNull() }
        guard element == .timestamptz else { return fail("a date is not a \(element.dataType)") }
        let micros = (value.timeIntervalSince1970 * 1_000_000).rounded()
        guard let exact = Int64(exactly: micros) else { return fail("\(value) is out of a timestamptz's range") }
        let (sinceEpoch, overflow) = exact.subtractingReportingOverflow(Self.postgresEpochMicros)
        guard !overflow else { return fail("\(value) is out of a timestamptz's range") }
        append(length: 8)
        appendBigEndian(UInt64(bitPattern: sinceEpoch))
        counted()
    }

    /// Appends a `boolean` element, or NULL.
    public mutating func append(_ value: Bool?) {
        guard let value else { return appendNull() }
        guard element == .bool else { return fail("a boolean is not a \(element.dataType)") }
        append(length: 1)
        bytes.append(value ? 1 : 0)
        counted()
    }

    /// The array, to bind as a parameter cast to its type (`$1::text[]`).
    public var value: PostgresValue {
        guard count > 0 else {
            // No dimensions: Postgres's empty array.
            var empty: [UInt8] = []
            for word in [0, 0, element.dataType.oid] { Self.appendBigEndian(UInt32(word), to: &empty) }
            return PostgresValue(binaryBytes: empty, dataType: element.arrayType, encodingFailure: failure)
        }
        return PostgresValue(binaryBytes: bytes, dataType: element.arrayType, encodingFailure: failure)
    }

    /// Counts the element just written, in ``count`` and in the header.
    private mutating func counted() {
        count += 1
        storeHeaderWord(UInt32(count), at: Self.lengthOffset)
    }

    private mutating func storeHeaderWord(_ word: UInt32, at offset: Int) {
        bytes.withUnsafeMutableBytes { $0.storeBytes(of: word.bigEndian, toByteOffset: offset, as: UInt32.self) }
    }

    private mutating func appendText(_ utf8: UnsafeRawBufferPointer) {
        guard element == .text || element == .json else { return fail("a string is not a \(element.dataType)") }
        if let base = utf8.baseAddress, memchr(base, 0, utf8.count) != nil {
            return fail("contains a NUL byte, which \(element.dataType) cannot hold")
        }
        append(length: Int32(utf8.count))
        bytes.append(contentsOf: utf8)
        counted()
    }

    private mutating func append(length: Int32) {
        appendBigEndian(UInt32(bitPattern: length))
    }

    private mutating func appendBigEndian<Word: FixedWidthInteger>(_ word: Word) {
        Self.appendBigEndian(word, to: &bytes)
    }

    private static func appendBigEndian<Word: FixedWidthInteger>(_ word: Word, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: word.bigEndian) { bytes.append(contentsOf: $0) }
    }

    /// Records the first element that could not be encoded, and stands a NULL in for it: the
    /// array keeps one element per row (its ``count`` says rows were added, and the columns of a
    /// statement stay aligned), while the statement that binds it fails with the reason.
    private mutating func fail(_ reason: String) {
        if failure == nil { failure = "\(element.arrayType) element \(count + 1): \(reason)" }
        appendNull()
    }
}
