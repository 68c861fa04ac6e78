/// A message's record headers, in order, with every name and value in one buffer.
///
/// A CloudEvents message carries about eleven headers. As an array of ``KafkaHeader``
/// each value was an array of its own: a dozen allocations for every message consumed or
/// produced, and a reference count to touch for each on every copy of the message. Here
/// the names and values lie back to back in one byte buffer, with a table of where each
/// lies, so a message's headers cost two allocations and a copy two reference counts
/// whatever their number (docs/benchmarks-orchestrator.md, session 22).
///
/// It is a random-access collection of ``KafkaHeader`` for code that wants values; the hot
/// paths read names and values in place with ``forEachRaw(_:)`` or ``first(named:)``.
/// Names may repeat; order is kept as produced.
///
/// Names and values compare as bytes, as Kafka carries them: two headers are equal when their
/// bytes are, and ``first(named:)`` matches a name byte for byte (not by Unicode equivalence,
/// as `String` comparison would). A value is at most 2 GiB and all of them together at most
/// 4 GiB, far above anything a broker accepts (librdkafka's `message.max.bytes` is at most 1 GB).
public struct KafkaHeaders: Sendable, Hashable {
    /// Where one header lies in ``bytes``: its name, then its value (if it has one).
    @usableFromInline
    struct Field: Sendable, Hashable {
        /// The offset of the name's first byte.
        @usableFromInline
        var start: UInt32
        /// The name's length in bytes.
        @usableFromInline
        var nameCount: UInt32
        /// The value's length in bytes, or -1 for a header without a value.
        @usableFromInline
        var valueCount: Int32
    }

    /// Every name and value, back to back, in header order.
    @usableFromInline
    var bytes: [UInt8] = []
    /// One entry per header, in order.
    @usableFromInline
    var fields: [Field] = []

    /// No headers.
    public init() {}

    /// The given headers, in order.
    public init(_ headers: some Sequence<KafkaHeader>) {
        for header in headers { append(header) }
    }

    /// Room for `count` headers of `byteCount` bytes of names and values in all, so that
    /// building them allocates once.
    public mutating func reserveCapacity(headers count: Int, bytes byteCount: Int) {
        fields.reserveCapacity(count)
        bytes.reserveCapacity(byteCount)
    }

    /// Appends a header.
    public mutating func append(_ header: KafkaHeader) {
        var name = header.name
        name.withUTF8 { name in
            if let value = header.value {
                value.withUnsafeBufferPointer { append(name: name, value: $0) }
            } else {
                append(name: name, value: nil)
            }
        }
    }

    /// Appends a header whose value is the UTF-8 of `value`, without an array of its own.
    public mutating func append(name: String, value: String) {
        checkRoom(nameCount: name.utf8.count, valueCount: value.utf8.count)
        // Through the UTF-8 views (contiguous for native strings: one copy each), not
        // `withUTF8`, which needs a `var` copy of each string, retained and released.
        fields.append(Field(start: UInt32(bytes.count), nameCount: UInt32(name.utf8.count), valueCount: Int32(value.utf8.count)))
        bytes.append(contentsOf: name.utf8)
        bytes.append(contentsOf: value.utf8)
    }

    /// Appends a header from bytes in place; a nil `value` is a header without a value.
    public mutating func append(name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>?) {
        checkRoom(nameCount: name.count, valueCount: value?.count ?? 0)
        fields.append(
            Field(start: UInt32(bytes.count), nameCount: UInt32(name.count), valueCount: value.map { Int32($0.count) } ?? -1))
        bytes.append(contentsOf: name)
        if let value { bytes.append(contentsOf: value) }
    }

    /// Stops on a header the offsets cannot hold (see the limits above), rather than on an
    /// integer conversion further on.
    private func checkRoom(nameCount: Int, valueCount: Int) {
        precondition(valueCount <= Int32.max, "a Kafka header value holds at most 2 GiB")
        precondition(bytes.count + nameCount + valueCount <= UInt32.max, "Kafka headers hold at most 4 GiB in all")
    }

    /// Removes every header for which `shouldRemove` is true, keeping the others in order.
    public mutating func removeAll(where shouldRemove: (KafkaHeader) throws -> Bool) rethrows {
        guard let first = try firstIndex(where: shouldRemove) else { return }
        var kept = KafkaHeaders()
        for header in self[..<first] { kept.append(header) }
        for header in self[(first + 1)...] where try !shouldRemove(header) { kept.append(header) }
        self = kept
    }

    /// Calls `body` with each header's name and value (nil for a header without one), in
    /// order, as bytes in place: the buffers are valid only during the call.
    @inlinable
    public func forEachRaw(
        _ body: (_ name: UnsafeBufferPointer<UInt8>, _ value: UnsafeBufferPointer<UInt8>?) throws -> Void
    ) rethrows {
        try bytes.withUnsafeBufferPointer { buffer in
            for field in fields {
                let nameStart = Int(field.start)
                let valueStart = nameStart + Int(field.nameCount)
                let name = UnsafeBufferPointer(rebasing: buffer[nameStart..<valueStart])
                let value =
                    field.valueCount < 0
                    ? nil : UnsafeBufferPointer(rebasing: buffer[valueStart..<valueStart + Int(field.valueCount)])
                try body(name, value)
            }
        }
    }

    /// The value of the first header called `name` (matched exactly), if any.
    public func first(named name: String) -> [UInt8]? {
        var name = name
        return name.withUTF8 { wanted in
            bytes.withUnsafeBufferPointer { buffer in
                for field in fields where Int(field.nameCount) == wanted.count {
                    let nameStart = Int(field.start)
                    let valueStart = nameStart + Int(field.nameCount)
                    guard buffer[nameStart..<valueStart].elementsEqual(wanted) else { continue }
                    return field.valueCount < 0 ? nil : Array(buffer[valueStart..<valueStart + Int(field.valueCount)])
                }
                return nil
            }
        }
    }
}

extension KafkaHeaders: RandomAccessCollection {
    /// The first header's position.
    public var startIndex: Int { 0 }
    /// The position after the last header.
    public var endIndex: Int { fields.count }

    /// The header at `position`, as a value of its own.
    public subscript(position: Int) -> KafkaHeader {
        let field = fields[position]
        let nameStart = Int(field.start)
        let valueStart = nameStart + Int(field.nameCount)
        return KafkaHeader(
            name: String(decoding: bytes[nameStart..<valueStart], as: UTF8.self),
            value: field.valueCount < 0 ? nil : Array(bytes[valueStart..<valueStart + Int(field.valueCount)])
        )
    }
}

extension KafkaHeaders: RangeReplaceableCollection {
    /// Replaces the headers in `range` with `replacement`, keeping the rest in order.
    ///
    /// The buffer is rebuilt, so this is linear in the number of headers; appending (the
    /// usual edit) is not, and has its own implementation.
    public mutating func replaceSubrange(_ range: Range<Int>, with replacement: some Collection<KafkaHeader>) {
        var rebuilt = KafkaHeaders()
        rebuilt.reserveCapacity(headers: count - range.count + replacement.count, bytes: bytes.count)
        for header in self[..<range.lowerBound] { rebuilt.append(header) }
        for header in replacement { rebuilt.append(header) }
        for header in self[range.upperBound...] { rebuilt.append(header) }
        self = rebuilt
    }
}

extension KafkaHeaders: ExpressibleByArrayLiteral {
    /// The headers listed, in order.
    public init(arrayLiteral headers: KafkaHeader...) {
        self.init(headers)
    }
}

extension KafkaHeaders: CustomStringConvertible {
    /// The headers as `[name: value, …]`, values as text.
    public var description: String {
        "[" + map { "\($0.name): \($0.stringValue.map { "\"\($0)\"" } ?? "nil")" }.joined(separator: ", ") + "]"
    }
}
