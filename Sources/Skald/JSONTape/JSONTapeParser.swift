/// Parses strict RFC 8259 JSON into ``JSONTape`` nodes, or answers nil for
/// anything it does not accept (which Foundation may still accept: the caller
/// then uses Foundation).
struct JSONTapeParser {
    private let input: UnsafeBufferPointer<UInt8>
    private var index = 0
    private var nodes: [JSONTape.Node] = []

    private init(_ input: UnsafeBufferPointer<UInt8>) {
        self.input = input
        nodes.reserveCapacity(16)
    }

    /// The nodes of `bytes` (plus the trailing `null` node), or nil.
    static func parse(_ bytes: [UInt8]) -> [JSONTape.Node]? {
        bytes.withUnsafeBufferPointer { input in
            var parser = JSONTapeParser(input)
            guard parser.parseDocument() else { return nil }
            parser.nodes.append(JSONTape.Node(kind: .null, flag: false, start: 0, end: 0, count: 0, next: parser.nodes.count + 1))
            return parser.nodes
        }
    }

    private mutating func parseDocument() -> Bool {
        // A byte order mark or a NUL among the first bytes means another encoding to Foundation.
        if input.count >= 3, input[0] == 0xEF, input[1] == 0xBB, input[2] == 0xBF { return false }
        for position in 0..<min(4, input.count) where input[position] == 0 || input[position] >= 0xFE { return false }
        skipWhitespace()
        guard parseValue(depth: 0) else { return false }
        skipWhitespace()
        return index == input.count
    }

    private mutating func skipWhitespace() {
        while index < input.count {
            switch input[index] {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"): index += 1
            default: return
            }
        }
    }

    private mutating func parseValue(depth: Int) -> Bool {
        guard index < input.count, depth < JSONTape.maximumDepth else { return false }
        switch input[index] {
        case UInt8(ascii: "{"): return parseObject(depth: depth)
        case UInt8(ascii: "["): return parseArray(depth: depth)
        case UInt8(ascii: "\""): return parseString()
        case UInt8(ascii: "t"): return parseLiteral("true", .true)
        case UInt8(ascii: "f"): return parseLiteral("false", .false)
        case UInt8(ascii: "n"): return parseLiteral("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return parseNumber()
        default: return false
        }
    }

    private mutating func append(_ kind: JSONTape.Kind, flag: Bool = false, start: Int = 0, end: Int = 0) -> Int {
        nodes.append(JSONTape.Node(kind: kind, flag: flag, start: start, end: end, count: 0, next: nodes.count + 1))
        return nodes.count - 1
    }

    private mutating func parseLiteral(_ text: StaticString, _ kind: JSONTape.Kind) -> Bool {
        let count = text.utf8CodeUnitCount
        guard index + count <= input.count else { return false }
        for offset in 0..<count where input[index + offset] != text.utf8Start[offset] { return false }
        index += count
        _ = append(kind)
        return true
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`; the flag marks a fraction or exponent.
    private mutating func parseNumber() -> Bool {
        let start = index
        if input[index] == UInt8(ascii: "-") { index += 1 }
        guard index < input.count else { return false }
        if input[index] == UInt8(ascii: "0") {
            index += 1
        } else {
            guard skipDigits() else { return false }
        }
        var isReal = false
        if index < input.count, input[index] == UInt8(ascii: ".") {
            index += 1
            guard skipDigits() else { return false }
            isReal = true
        }
        if index < input.count, input[index] == UInt8(ascii: "e") || input[index] == UInt8(ascii: "E") {
            index += 1
            if index < input.count, input[index] == UInt8(ascii: "+") || input[index] == UInt8(ascii: "-") { index += 1 }
            guard skipDigits() else { return false }
            isReal = true
        }
        _ = append(.number, flag: isReal, start: start, end: index)
        return true
    }

    /// One or more digits.
    private mutating func skipDigits() -> Bool {
        let start = index
        while index < input.count, input[index] >= UInt8(ascii: "0"), input[index] <= UInt8(ascii: "9") { index += 1 }
        return index > start
    }

    /// A string: no raw control characters, only the escapes JSON defines (an escaped
    /// surrogate gives up), valid UTF-8.
    private mutating func parseString() -> Bool {
        index += 1  // the opening quote
        let start = index
        var escaped = false
        var nonASCII = false
        while index < input.count {
            let byte = input[index]
            if byte == UInt8(ascii: "\"") {
                if nonASCII, String(validating: UnsafeBufferPointer(rebasing: input[start..<index]), as: UTF8.self) == nil {
                    return false
                }
                _ = append(.string, flag: escaped, start: start, end: index)
                index += 1
                return true
            }
            if byte < 0x20 { return false }
            if byte >= 0x80 { nonASCII = true }
            if byte == UInt8(ascii: "\\") {
                escaped = true
                index += 1
                guard index < input.count else { return false }
                switch input[index] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                    UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    break
                case UInt8(ascii: "u"):
                    guard index + 4 < input.count, let scalar = JSONTape.hexScalar(input, at: index + 1),
                        !(0xD800...0xDFFF).contains(scalar)
                    else { return false }
                    index += 4
                default:
                    return false
                }
            }
            index += 1
        }
        return false
    }

    private mutating func parseArray(depth: Int) -> Bool {
        let container = append(.array)
        index += 1
        skipWhitespace()
        var count = 0
        if index < input.count, input[index] == UInt8(ascii: "]") {
            index += 1
        } else {
            while true {
                guard parseValue(depth: depth + 1) else { return false }
                count += 1
                skipWhitespace()
                guard index < input.count else { return false }
                if input[index] == UInt8(ascii: ",") {
                    index += 1
                    skipWhitespace()
                } else if input[index] == UInt8(ascii: "]") {
                    index += 1
                    break
                } else {
                    return false
                }
            }
        }
        nodes[container].count = count
        nodes[container].next = nodes.count
        return true
    }

    private mutating func parseObject(depth: Int) -> Bool {
        let container = append(.object)
        index += 1
        skipWhitespace()
        var count = 0
        if index < input.count, input[index] == UInt8(ascii: "}") {
            index += 1
        } else {
            while true {
                guard index < input.count, input[index] == UInt8(ascii: "\""), parseString() else { return false }
                skipWhitespace()
                guard index < input.count, input[index] == UInt8(ascii: ":") else { return false }
                index += 1
                skipWhitespace()
                guard parseValue(depth: depth + 1) else { return false }
                count += 1
                skipWhitespace()
                guard index < input.count else { return false }
                if input[index] == UInt8(ascii: ",") {
                    index += 1
                    skipWhitespace()
                } else if input[index] == UInt8(ascii: "}") {
                    index += 1
                    break
                } else {
                    return false
                }
            }
        }
        nodes[container].count = count
        nodes[container].next = nodes.count
        return true
    }
}
