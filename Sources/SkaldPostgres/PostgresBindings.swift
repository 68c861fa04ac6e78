import Foundation

/// The parameters of one statement, encoded in Postgres text format.
///
/// All values share one byte buffer (NUL-terminated, back to back) so that binding a
/// statement's parameters costs a couple of allocations, not one per value — the
/// pipeline hot path sends tens of thousands of statements per second.
public struct PostgresBindings: Sendable, Hashable {
    struct Slot: Sendable, Hashable {
        /// Start of the value in `bytes`, or -1 for SQL NULL.
        var offset: Int32
        var type: UInt32
    }

    var bytes: [UInt8] = []
    var slots: [Slot] = []
    /// The first value that failed to encode (e.g. a JSON encoder error); reported when sent.
    var encodingFailure: String?

    /// Creates empty bindings; `capacity` is the expected number of parameters.
    public init(capacity: Int = 0) {
        if capacity > 0 {
            slots.reserveCapacity(capacity)
            bytes.reserveCapacity(capacity * 16)
        }
    }

    /// The number of parameters bound so far.
    public var count: Int { slots.count }

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
        if let text = value.text {
            let start = bytes.count
            bytes.append(contentsOf: text)
            bytes.append(0)
            slots.append(Slot(offset: Int32(start), type: value.dataType.oid))
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

    /// Calls `body` with the C arrays libpq wants: value pointers and type OIDs.
    ///
    /// The arrays live on the stack for small statements, so sending allocates nothing.
    func withCArrays<Result>(
        _ body: (UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<UInt32>?) throws -> Result
    ) rethrows -> Result {
        let count = slots.count
        if count == 0 {
            return try body(nil, nil)
        }
        return try bytes.withUnsafeBufferPointer { raw in
            try withUnsafeTemporaryAllocation(of: UnsafePointer<CChar>?.self, capacity: count) { values in
                try withUnsafeTemporaryAllocation(of: UInt32.self, capacity: count) { types in
                    let base = raw.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) }
                    for index in 0..<count {
                        let slot = slots[index]
                        values[index] = slot.offset < 0 ? nil : base.map { $0 + Int(slot.offset) }
                        types[index] = slot.type
                    }
                    return try body(
                        UnsafePointer(values.baseAddress),
                        UnsafePointer(types.baseAddress)
                    )
                }
            }
        }
    }
}

/// An encoded parameter value: its text form (nil for NULL) and its type.
///
/// Use it for the explicit `PostgresQuery(sql, [values])` form, e.g. `[PostgresValue(42), .null]`.
public struct PostgresValue: Sendable, Hashable {
    /// The value in Postgres text format, without a trailing NUL; nil means SQL NULL.
    public var text: [UInt8]?
    /// The type sent with the value; `.unspecified` lets the server infer it.
    public var dataType: PostgresDataType
    var encodingFailure: String?

    /// Encodes `value` now.
    public init<Value: PostgresEncodable>(_ value: Value) {
        var writer = PostgresTextWriter(bytes: [])
        value.encode(into: &writer)
        self.text = writer.isNull ? nil : writer.bytes
        self.dataType = Value.postgresDataType
        self.encodingFailure = writer.failure
    }

    /// A value already in Postgres text format: UTF-8 without NUL, as a JSON writer makes it.
    ///
    /// For values built as bytes, so they are not turned into a `String` only to be copied out again.
    public init(textBytes: [UInt8], dataType: PostgresDataType = .unspecified) {
        self.text = textBytes
        self.dataType = dataType
        // memchr, not `contains`: a batch's document is tens of kilobytes.
        if textBytes.withUnsafeBytes({ $0.count > 0 && memchr($0.baseAddress!, 0, $0.count) != nil }) {
            self.encodingFailure = "a value containing a NUL byte cannot be sent in text format"
        }
    }

    /// SQL NULL of a type the server infers.
    public static let null = PostgresValue(nullOf: .unspecified)

    /// SQL NULL of the given type.
    public init(nullOf dataType: PostgresDataType) {
        self.text = nil
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
