import Foundation

/// The parameters of one statement, each in Postgres text or binary format.
///
/// All values share one byte buffer (back to back, text NUL-terminated) so that binding a
/// statement's parameters costs a couple of allocations, not one per value — the
/// pipeline hot path sends tens of thousands of statements per second.
public struct PostgresBindings: Sendable, Hashable {
    struct Slot: Sendable, Hashable {
        /// Start of the value in `bytes`, or -1 for SQL NULL.
        var offset: Int32
        var type: UInt32
        /// The value's length in bytes (libpq reads it for binary values only).
        var length: Int32 = 0
        /// Whether the value is in binary format.
        var isBinary = false
    }

    var bytes: [UInt8] = []
    var slots: [Slot] = []
    /// Whether any value is in binary format, so libpq needs lengths and formats.
    var hasBinary = false
    /// The first value that failed to encode (e.g. a JSON encoder error); reported when sent.
    var encodingFailure: String?

    /// Creates empty bindings; `capacity` is the expected number of parameters.
    public init(capacity: Int = 0) {
        if capacity > 0 {
            slots.reserveCapacity(capacity)
            bytes.reserveCapacity(capacity * 16)
        }
    }

    /// Makes room for `count` bytes of values in all, so binding them does not grow the buffer.
    public mutating func reserveByteCapacity(_ count: Int) {
        bytes.reserveCapacity(count)
    }

    /// The number of parameters bound so far.
    public var count: Int { slots.count }

    /// Each parameter's type OID, in order (0 where the server infers it).
    package var parameterTypes: [UInt32] { slots.map(\.type) }

    /// Binds `value` as the next parameter (`$<count + 1>`).
    public mutating func append<Value: PostgresEncodable>(_ value: Value) {
        var writer = PostgresTextWriter(bytes: [])
        swap(&writer.bytes, &bytes)
        let start = writer.bytes.count
        value.encode(into: &writer)
        swap(&writer.bytes, &bytes)
        if let failure = writer.failure, encodingFailure == nil {
            encodingFailure = "parameter $\(slots.count + 1) (\(Value.self)): \(failure)"
        }
        if writer.isNull {
            bytes.removeSubrange(start...)
            slots.append(Slot(offset: -1, type: Value.postgresDataType.oid))
        } else {
            bytes.append(0)
            slots.append(Slot(offset: Int32(start), type: Value.postgresDataType.oid))
        }
    }

    /// Binds an already encoded value as the next parameter.
    public mutating func append(_ value: PostgresValue) {
        if let valueBytes = value.bytes {
            let start = bytes.count
            bytes.append(contentsOf: valueBytes)
            // Binary values are terminated too, though libpq reads their length: an empty one
            // then still has storage to point at (a nil pointer would mean NULL).
            bytes.append(0)
            hasBinary = hasBinary || value.format == .binary
            slots.append(Slot(
                offset: Int32(start), type: value.dataType.oid, length: Int32(valueBytes.count),
                isBinary: value.format == .binary))
        } else {
            slots.append(Slot(offset: -1, type: value.dataType.oid))
        }
        if let failure = value.encodingFailure, encodingFailure == nil {
            encodingFailure = "parameter $\(slots.count): \(failure)"
        }
    }

    /// Binds SQL NULL as the next parameter, letting the server infer its type.
    public mutating func appendNull() {
        slots.append(Slot(offset: -1, type: 0))
    }

    /// Calls `body` with the C arrays libpq wants: value pointers, type OIDs, and, when a
    /// value is binary, every value's length and format (nil when all are text).
    ///
    /// The arrays live on the stack for small statements, so sending allocates nothing.
    func withCArrays<Result>(
        _ body: (
            _ values: UnsafePointer<UnsafePointer<CChar>?>?, _ types: UnsafePointer<UInt32>?,
            _ lengths: UnsafePointer<Int32>?, _ formats: UnsafePointer<Int32>?
        ) throws -> Result
    ) rethrows -> Result {
        let count = slots.count
        if count == 0 {
            return try body(nil, nil, nil, nil)
        }
        return try bytes.withUnsafeBufferPointer { raw in
            try withUnsafeTemporaryAllocation(of: UnsafePointer<CChar>?.self, capacity: count) { values in
                try withUnsafeTemporaryAllocation(of: UInt32.self, capacity: count) { types in
                    try withUnsafeTemporaryAllocation(of: Int32.self, capacity: hasBinary ? 2 * count : 0) { lengthsAndFormats in
                        let base = raw.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) }
                        for index in 0..<count {
                            let slot = slots[index]
                            values[index] = slot.offset < 0 ? nil : base.map { $0 + Int(slot.offset) }
                            types[index] = slot.type
                            if hasBinary {
                                lengthsAndFormats[index] = slot.length
                                lengthsAndFormats[count + index] = slot.isBinary ? 1 : 0
                            }
                        }
                        let lengths = hasBinary ? UnsafePointer(lengthsAndFormats.baseAddress) : nil
                        return try body(
                            UnsafePointer(values.baseAddress), UnsafePointer(types.baseAddress),
                            lengths, lengths.map { $0 + count }
                        )
                    }
                }
            }
        }
    }
}

/// The wire format of a parameter value.
public enum PostgresFormat: Sendable, Hashable {
    /// Postgres text format: what `psql` shows, without a trailing NUL.
    case text
    /// Postgres binary format: what the type's `send` function writes (e.g. ``PostgresArrayWriter``).
    case binary
}

/// An encoded parameter value: its bytes (nil for NULL), their format, and its type.
///
/// Use it for the explicit `PostgresQuery(sql, [values])` form, e.g. `[PostgresValue(42), .null]`.
public struct PostgresValue: Sendable, Hashable {
    /// The value in ``format``, without a trailing NUL; nil means SQL NULL.
    public var bytes: [UInt8]?
    /// Whether ``bytes`` are in text or binary format.
    public var format: PostgresFormat
    /// The type sent with the value; `.unspecified` lets the server infer it (text format only:
    /// a binary value must name its type).
    public var dataType: PostgresDataType
    var encodingFailure: String?

    /// The value in Postgres text format; nil for NULL or a binary value. Setting it makes the
    /// value a text one.
    public var text: [UInt8]? {
        get { format == .text ? bytes : nil }
        set {
            bytes = newValue
            format = .text
        }
    }

    /// Encodes `value` now.
    public init<Value: PostgresEncodable>(_ value: Value) {
        var writer = PostgresTextWriter(bytes: [])
        value.encode(into: &writer)
        self.bytes = writer.isNull ? nil : writer.bytes
        self.format = .text
        self.dataType = Value.postgresDataType
        self.encodingFailure = writer.failure
    }

    /// A value already in Postgres text format: UTF-8 without NUL, as a JSON writer makes it.
    ///
    /// For values built as bytes, so they are not turned into a `String` only to be copied out again.
    public init(textBytes: [UInt8], dataType: PostgresDataType = .unspecified) {
        self.bytes = textBytes
        self.format = .text
        self.dataType = dataType
        // memchr, not `contains`: a JSON document can be tens of kilobytes.
        if textBytes.withUnsafeBytes({ $0.count > 0 && memchr($0.baseAddress!, 0, $0.count) != nil }) {
            self.encodingFailure = "a value containing a NUL byte cannot be sent in text format"
        }
    }

    /// A value in Postgres binary format, of type `dataType` (which must not be `.unspecified`).
    ///
    /// `encodingFailure` is the reason the value could not be built, if it could not: the
    /// statement then fails with it before anything is sent.
    public init(binaryBytes: [UInt8], dataType: PostgresDataType, encodingFailure: String? = nil) {
        self.bytes = binaryBytes
        self.format = .binary
        self.dataType = dataType
        self.encodingFailure = dataType == .unspecified
            ? "a binary value needs its type" : encodingFailure
    }

    /// SQL NULL of a type the server infers.
    public static let null = PostgresValue(nullOf: .unspecified)

    /// SQL NULL of the given type.
    public init(nullOf dataType: PostgresDataType) {
        self.bytes = nil
        self.format = .text
        self.dataType = dataType
    }
}

/// Where a ``PostgresEncodable`` value writes its Postgres text form.
public struct PostgresTextWriter {
    var bytes: [UInt8]
    var isNull = false
    var failure: String?

    /// Appends UTF-8 text.
    public mutating func write(_ text: String) {
        var text = text
        text.withUTF8 { bytes.append(contentsOf: $0) }
    }

    /// Appends raw bytes; they must not contain NUL (text format cannot carry it).
    public mutating func write(bytes newBytes: some Sequence<UInt8>) {
        bytes.append(contentsOf: newBytes)
    }

    /// Appends one ASCII byte.
    public mutating func write(byte: UInt8) {
        bytes.append(byte)
    }

    /// Binds SQL NULL instead of any text written.
    public mutating func writeNull() {
        isNull = true
    }

    /// Records why the value cannot be encoded; the statement then fails with this message.
    public mutating func fail(_ reason: String) {
        if failure == nil { failure = reason }
    }
}
