/// One canonical JSON document being written: the ``CanonicalJSONBuffer``
/// shared by the encoders and containers of the document, and the steps that
/// run a value's own `encode(to:)`.
///
/// The buffer is only touched inside single calls (`writer.buffer.…`), never
/// across a call into a value's `encode(to:)`, which comes back to the writer
/// through the encoders it is given.
final class CanonicalJSONWriter {
    var buffer = CanonicalJSONBuffer()

    var isAbandoned: Bool { buffer.isAbandoned }

    /// The finished document (the buffer is moved out, not copied).
    func takeBytes() -> [UInt8] {
        var result: [UInt8] = []
        swap(&result, &buffer.bytes)
        return result
    }

    /// Encodes `value` as the whole document.
    func encodeDocument<T: Encodable>(_ value: T) throws {
        let token = try buffer.beginDocument(value)
        if let token { try encodeNested(value, level: 0, token: token, emptyIsObject: false) }
        try buffer.finishDocument()
    }

    /// Runs `value.encode(to:)` on an existing level (a fresh member or element, the
    /// document, or the level of a single-value container).
    ///
    /// A value that asked for no container and wrote nothing is `{}`, as in Foundation
    /// (except for the document itself, `emptyIsObject` false).
    func encodeNested<T: Encodable>(_ value: T, level: Int, token: Int, emptyIsObject: Bool) throws {
        guard !buffer.isAbandoned else { throw CanonicalJSONBuffer.Abandoned() }
        do {
            try value.encode(to: CanonicalJSONEncoder(writer: self, level: level, token: token))
        } catch {
            // Whatever was written for this value is incomplete; Foundation will report the error.
            throw buffer.giveUp()
        }
        try buffer.finishNested(level: level, token: token, emptyIsObject: emptyIsObject)
    }

    /// Encodes `value` as the member `key` of the object at `level`.
    func encodeMember<T: Encodable>(_ value: T, key: some CodingKey, level: Int, token: Int) throws {
        let child = try buffer.member(key.stringValue, level: level, token: token) { buffer in
            try buffer.writeScalar(value) ? nil : buffer.pushLevel(key: .key(key), content: .empty)
        }
        guard let child else { return }
        try encodeNested(value, level: level + 1, token: child, emptyIsObject: true)
        buffer.closeLevels(downTo: level + 1)
    }

    /// Encodes `value` as the next element of the array at `level`.
    func encodeElement<T: Encodable>(_ value: T, level: Int, token: Int) throws {
        let child = try buffer.element(level: level, token: token) { buffer in
            try buffer.writeScalar(value) ? nil : buffer.pushLevel(key: .index(buffer.levels[level].count - 1), content: .empty)
        }
        guard let child else { return }
        try encodeNested(value, level: level + 1, token: child, emptyIsObject: true)
        buffer.closeLevels(downTo: level + 1)
    }

    /// Encodes `value` through a single-value container of `level`.
    func encodeSingle<T: Encodable>(_ value: T, level: Int, token: Int) throws {
        if try buffer.singleValue(value, level: level, token: token) { return }
        try encodeNested(value, level: level, token: token, emptyIsObject: true)
    }
}
