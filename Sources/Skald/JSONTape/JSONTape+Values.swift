/// Reading scalars from the tape, as Foundation's `JSONDecoder` reads them.
extension JSONTape {
    /// The four hex digits at `offset` as a number, or nil.
    static func hexScalar(_ input: UnsafeBufferPointer<UInt8>, at offset: Int) -> UInt32? {
        var value: UInt32 = 0
        for position in offset..<(offset + 4) {
            let byte = input[position]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte &- UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte &- UInt8(ascii: "a") &+ 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte &- UInt8(ascii: "A") &+ 10
            default: return nil
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    /// The text of the string node `node` (validated by the parser).
    func string(_ node: Int) -> String {
        let entry = nodes[node]
        return bytes.withUnsafeBufferPointer { input in
            let raw = UnsafeBufferPointer(rebasing: input[entry.start..<entry.end])
            guard entry.flag else { return String(decoding: raw, as: UTF8.self) }
            var text: [UInt8] = []
            text.reserveCapacity(raw.count)
            var position = 0
            while position < raw.count {
                let byte = raw[position]
                position += 1
                guard byte == UInt8(ascii: "\\") else {
                    text.append(byte)
                    continue
                }
                let escape = raw[position]
                position += 1
                switch escape {
                case UInt8(ascii: "b"): text.append(0x08)
                case UInt8(ascii: "f"): text.append(0x0C)
                case UInt8(ascii: "n"): text.append(0x0A)
                case UInt8(ascii: "r"): text.append(0x0D)
                case UInt8(ascii: "t"): text.append(0x09)
                case UInt8(ascii: "u"):
                    // Not a surrogate (the parser gave up on those), so a scalar of its own.
                    if let scalar = Unicode.Scalar(Self.hexScalar(raw, at: position) ?? 0xFFFD), let encoded = UTF8.encode(scalar) {
                        text.append(contentsOf: encoded)
                    }
                    position += 4
                default: text.append(escape)  // " \ /
                }
            }
            return String(decoding: text, as: UTF8.self)
        }
    }

    /// The value node of the first member of `object` named `key`, found as Foundation's
    /// dictionary finds it: `String` equality (canonical equivalence), the first of equal
    /// names kept. Plain ASCII names are compared byte by byte without making a `String`.
    func member(_ object: Int, _ key: String) -> Int? {
        var utf8 = key
        return utf8.withUTF8 { keyBytes in
            bytes.withUnsafeBufferPointer { input in
                let keyIsASCII = Self.isASCII(keyBytes)
                var child = object + 1
                for _ in 0..<nodes[object].count {
                    let entry = nodes[child]
                    let name = UnsafeBufferPointer(rebasing: input[entry.start..<entry.end])
                    if !entry.flag, name.count == keyBytes.count, Self.equal(name, keyBytes) { return child + 1 }
                    // Different bytes are different strings, unless escapes or non-ASCII text are involved.
                    if entry.flag || !keyIsASCII || !Self.isASCII(name), string(child) == key { return child + 1 }
                    child = nodes[child + 1].next
                }
                return nil
            }
        }
    }

    private static func isASCII(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var union: UInt8 = 0
        for byte in bytes { union |= byte }
        return union < 0x80
    }

    private static func equal(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        for index in 0..<a.count where a[index] != b[index] { return false }
        return true
    }

    /// An integer from an integer literal only; gives up on anything else (Foundation
    /// converts `1.0` or `1e2` through `Double`, and reports overflow as an error).
    func integer<T: FixedWidthInteger>(_ node: Int, as type: T.Type) throws -> T {
        let entry = nodes[node]
        guard entry.kind == .number, !entry.flag else { throw giveUp() }
        let negative = bytes[entry.start] == UInt8(ascii: "-")
        // The digits as a magnitude (non-generic: generic overflow arithmetic was slow).
        guard let magnitude = digits(from: negative ? entry.start + 1 : entry.start, to: entry.end) else { throw giveUp() }
        if negative {
            guard T.isSigned, magnitude <= UInt64(Int64.max) + 1 else { throw giveUp() }
            let value = magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
            guard let result = T(exactly: value) else { throw giveUp() }
            return result
        }
        guard let result = T(exactly: magnitude) else { throw giveUp() }
        return result
    }

    /// The decimal digits in `start..<end` as a number; nil on overflow.
    private func digits(from start: Int, to end: Int) -> UInt64? {
        var value: UInt64 = 0
        for position in start..<end {
            let (shifted, overflow) = value.multipliedReportingOverflow(by: 10)
            let (next, carry) = shifted.addingReportingOverflow(UInt64(bytes[position] &- UInt8(ascii: "0")))
            if overflow || carry { return nil }
            value = next
        }
        return value
    }

    /// A `Double` as Foundation reads it: `strtod` of the literal (the standard library's
    /// parser is the same C-locale `strtod`), refusing results that overflowed to
    /// infinity or underflowed to zero. A short integer literal is converted exactly.
    func double(_ node: Int) throws -> Double {
        let entry = nodes[node]
        guard entry.kind == .number else { throw giveUp() }
        if !entry.flag, entry.end - entry.start <= 15 {
            // At most 15 digits: exactly representable, so strtod would give the same value.
            let value = try integer(node, as: Int64.self)
            return value == 0 && bytes[entry.start] == UInt8(ascii: "-") ? -0.0 : Double(value)
        }
        let text = String(decoding: bytes[entry.start..<entry.end], as: UTF8.self)
        guard let value = Double(text), value.isFinite, value != 0 || isZeroLiteral(entry) else { throw giveUp() }
        return value
    }

    /// A `Float`: `strtof` of the literal, with the same refusals.
    func float(_ node: Int) throws -> Float {
        let entry = nodes[node]
        guard entry.kind == .number else { throw giveUp() }
        let text = String(decoding: bytes[entry.start..<entry.end], as: UTF8.self)
        guard let value = Float(text), value.isFinite, value != 0 || isZeroLiteral(entry) else { throw giveUp() }
        return value
    }

    /// Whether the literal's digits before any exponent are all zero.
    private func isZeroLiteral(_ entry: Node) -> Bool {
        for position in entry.start..<entry.end {
            switch bytes[position] {
            case UInt8(ascii: "1")...UInt8(ascii: "9"): return false
            case UInt8(ascii: "e"), UInt8(ascii: "E"): return true
            default: continue
            }
        }
        return true
    }

    /// The ``JSONValue`` of `node`, as `JSONValue.init(from:)` reads it through Foundation:
    /// a number is read as `Double`, an object's names must be distinct (else give up).
    func jsonValue(_ node: Int) throws -> JSONValue {
        let entry = nodes[node]
        switch entry.kind {
        case .null: return .null
        case .true: return .bool(true)
        case .false: return .bool(false)
        case .number: return .number(try double(node))
        case .string: return .string(string(node))
        case .array:
            var elements: [JSONValue] = []
            elements.reserveCapacity(entry.count)
            var child = node + 1
            for _ in 0..<entry.count {
                elements.append(try jsonValue(child))
                child = nodes[child].next
            }
            return .array(elements)
        case .object:
            var members: [String: JSONValue] = [:]
            members.reserveCapacity(entry.count)
            var child = node + 1
            for _ in 0..<entry.count {
                let name = string(child)
                guard members[name] == nil else { throw giveUp() }
                members[name] = try jsonValue(child + 1)
                child = nodes[child + 1].next
            }
            return .object(members)
        }
    }
}
