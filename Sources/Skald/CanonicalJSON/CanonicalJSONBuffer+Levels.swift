/// Opening and closing levels, and beginning members and elements.
///
/// Containers name their level by index and token; every call first makes that
/// level the innermost open one (``activate(_:_:)``), closing the levels opened
/// inside it, or abandons when the level was closed already.
extension CanonicalJSONBuffer {
    // MARK: The document

    /// Opens the document's level and writes `value` when it is a scalar; returns the
    /// level's token when the value's own `encode(to:)` must run.
    mutating func beginDocument<T: Encodable>(_ value: T) throws -> Int? {
        let token = pushLevel(key: .root, content: .empty)
        guard try writeScalar(value) else { return token }
        levels[0].content = .scalar
        return nil
    }

    /// Closes every level; a document that wrote nothing is an error in Foundation
    /// ("did not encode any values"), so it is left to Foundation.
    mutating func finishDocument() throws {
        guard !isAbandoned, levels.count > 0, levels[0].content != .empty else { throw giveUp() }
        closeLevels(downTo: 0)
        if isAbandoned { throw Abandoned() }
    }

    /// After a value's `encode(to:)` returned: its level must still be open, and is `{}`
    /// if nothing was written (when `emptyIsObject`).
    mutating func finishNested(level: Int, token: Int, emptyIsObject: Bool) throws {
        guard !isAbandoned, level < levels.count, levels[level].token == token else { throw giveUp() }
        if emptyIsObject, levels[level].content == .empty {
            writeEmptyObject()
            levels[level].content = .scalar
        }
    }

    // MARK: Levels

    /// Makes `level` the innermost open level, closing the levels opened inside it.
    /// Returns false (and abandons) when the level is closed or the fast path abandoned.
    @inline(__always)
    mutating func activate(_ level: Int, _ token: Int) -> Bool {
        guard !isAbandoned, level >= 0, level < levels.count, levels[level].token == token else {
            abandon()
            return false
        }
        if levels.count > level + 1 { closeLevels(downTo: level + 1) }
        return true
    }

    /// ``activate(_:_:)`` for the throwing methods.
    @inline(__always)
    mutating func require(_ level: Int, _ token: Int) throws {
        guard activate(level, token) else { throw Abandoned() }
    }

    /// Opens a level inside the innermost one; returns its token. A level opened as an
    /// object or array is a nested container; an empty one belongs to an encoder.
    mutating func pushLevel(key: LevelKey, content: Content) -> Int {
        lastToken += 1
        if levels.count >= Self.maximumDepth { abandon() }
        levels.append(
            Level(
                token: lastToken, key: key, isNestedContainer: content != .empty, content: content, start: bytes.count,
                count: 0, firstEntry: entries.count, hasNonASCIIKey: false, hasEscapedKey: false))
        if content == .object {
            bytes.append(UInt8(ascii: "{"))
        } else if content == .array {
            bytes.append(UInt8(ascii: "["))
        }
        return lastToken
    }

    /// Closes levels from the innermost until `count` remain.
    mutating func closeLevels(downTo count: Int) {
        while levels.count > count {
            let level = levels.removeLast()
            switch level.content {
            case .empty: writeEmptyObject()
            case .scalar: break
            case .array: bytes.append(UInt8(ascii: "]"))
            case .object: finishObject(level)
            }
        }
    }

    /// Gives an empty level the container its encoder asks for. Asking again for the
    /// same kind returns the same container (a class and its superclass share one
    /// encoder), as Foundation does; anything else is left to Foundation.
    mutating func openContainer(level: Int, token: Int, content: Content) -> Bool {
        guard activate(level, token) else { return false }
        switch levels[level].content {
        case .empty:
            levels[level].content = content
            levels[level].start = bytes.count
            levels[level].firstEntry = entries.count
            bytes.append(content == .object ? UInt8(ascii: "{") : UInt8(ascii: "["))
            return true
        case content:
            return true
        default:
            abandon()
            return false
        }
    }

    // MARK: Single values

    /// Writes the value of a single-value container's level, which must be empty (a
    /// second value stops the program in Foundation).
    @inline(__always)
    mutating func scalar(level: Int, token: Int, _ write: (inout CanonicalJSONBuffer) throws -> Void) throws {
        try require(level, token)
        guard levels[level].content == .empty else { throw giveUp() }
        levels[level].content = .scalar
        try write(&self)
    }

    /// ``scalar(level:token:_:)`` for a generic value: true when it was a scalar and is
    /// written, false when its own `encode(to:)` must run on the level.
    mutating func singleValue<T: Encodable>(_ value: T, level: Int, token: Int) throws -> Bool {
        try require(level, token)
        guard levels[level].content == .empty else { throw giveUp() }
        guard try writeScalar(value) else { return false }
        levels[level].content = .scalar
        return true
    }

    // MARK: Members and elements

    /// Starts the member `key` of the object at `level` (comma, name, colon), then
    /// writes its value with `write`.
    @inline(__always)
    mutating func member<Result>(
        _ key: String, level: Int, token: Int, _ write: (inout CanonicalJSONBuffer) throws -> Result
    ) throws -> Result {
        try require(level, token)
        beginMember(key, level: level)
        return try write(&self)
    }

    /// Starts the next element of the array at `level`, then writes it with `write`.
    @inline(__always)
    mutating func element<Result>(
        level: Int, token: Int, _ write: (inout CanonicalJSONBuffer) throws -> Result
    ) throws -> Result {
        try require(level, token)
        beginElement(level: level)
        return try write(&self)
    }

    /// Comma, name and colon of a member of the (active) object at `level`.
    mutating func beginMember(_ key: String, level: Int) {
        if levels[level].count > 0 { bytes.append(UInt8(ascii: ",")) }
        levels[level].count += 1
        let start = bytes.count
        var name = key
        let (nonASCII, escaped) = name.withUTF8 { utf8 in
            let nonASCII = writeEscaped(utf8)
            return (nonASCII, bytes.count - start - 2 != utf8.count)
        }
        entries.append(Entry(start: start, nameEnd: bytes.count - 1, escapedKey: escaped ? key : nil))
        if nonASCII { levels[level].hasNonASCIIKey = true }
        if escaped { levels[level].hasEscapedKey = true }
        bytes.append(UInt8(ascii: ":"))
    }

    /// The comma before an element of the (active) array at `level`.
    @inline(__always)
    mutating func beginElement(level: Int) {
        if levels[level].count > 0 { bytes.append(UInt8(ascii: ",")) }
        levels[level].count += 1
    }

    /// Opens a member whose value is written later: a nested container (`content`
    /// `.object` or `.array`) or a super encoder (`.empty`, `{}` if never used, as
    /// Foundation writes for an unused super encoder). Nil when the parent is closed.
    mutating func openMember(_ key: any CodingKey, level: Int, token: Int, content: Content) -> (level: Int, token: Int)? {
        guard activate(level, token) else { return nil }
        beginMember(key.stringValue, level: level)
        return (level + 1, pushLevel(key: .key(key), content: content))
    }

    /// ``openMember(_:level:token:content:)`` for the next element of an array.
    mutating func openElement(level: Int, token: Int, content: Content) -> (level: Int, token: Int)? {
        guard activate(level, token) else { return nil }
        beginElement(level: level)
        return (level + 1, pushLevel(key: .index(levels[level].count - 1), content: content))
    }

    /// The elements begun in the array at `level` (0 once it is closed).
    func count(level: Int, token: Int) -> Int {
        guard level >= 0, level < levels.count, levels[level].token == token else { return 0 }
        return levels[level].count
    }

    /// The coding path Foundation's `JSONEncoder` reports at `level`. A closed level's
    /// path is not known any more: answering it abandons (Foundation would know it).
    ///
    /// Foundation's encoders are made by their parent container's *encoder*, so the
    /// keys of nested containers between them are missing from an encoder's path (and
    /// from the paths of containers below it); a nested container's own path has them.
    /// So: the keys of every level, except nested containers above the innermost
    /// level that belongs to an encoder.
    mutating func codingPath(level: Int, token: Int) -> [any CodingKey] {
        guard level >= 0, level < levels.count, levels[level].token == token else {
            abandon()
            return []
        }
        var innermostEncoder = 0
        for index in 0...level where !levels[index].isNestedContainer { innermostEncoder = index }
        var path: [any CodingKey] = []
        for index in 0...level where index > innermostEncoder || !levels[index].isNestedContainer {
            switch levels[index].key {
            case .root: break
            case .key(let key): path.append(key)
            case .index(let position): path.append(CanonicalJSONKey(index: position))
            }
        }
        return path
    }
}
