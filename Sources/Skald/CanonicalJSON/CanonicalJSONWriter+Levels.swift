extension CanonicalJSONWriter {
    /// Encodes `value` as the whole document.
    func encodeDocument<T: Encodable>(_ value: T) throws {
        let token = pushLevel(key: .root, content: .empty)
        if try writeScalar(value) {
            levels[0].content = .scalar
        } else {
            try encodeNested(value, level: 0, token: token, emptyIsObject: false)
        }
        // A top-level value that wrote nothing is an error in Foundation ("did not encode any values").
        guard !isAbandoned, levels[0].content != .empty else { throw giveUp() }
        closeLevels(downTo: 0)
        if isAbandoned { throw Abandoned() }
    }

    /// Runs `value.encode(to:)` on an existing level (a fresh member or element, the
    /// document, or the level of a single-value container).
    ///
    /// A value that asked for no container and wrote nothing is `{}`, as in Foundation
    /// (except for the document itself, `emptyIsObject` false).
    func encodeNested<T: Encodable>(_ value: T, level: Int, token: Int, emptyIsObject: Bool) throws {
        guard !isAbandoned else { throw Abandoned() }
        do {
            try value.encode(to: CanonicalJSONEncoder(writer: self, level: level, token: token))
        } catch {
            // Whatever was written for this value is incomplete; Foundation will report the error.
            throw giveUp()
        }
        guard !isAbandoned, level < levels.count, levels[level].token == token else { throw giveUp() }
        if emptyIsObject, levels[level].content == .empty {
            writeEmptyObject()
            levels[level].content = .scalar
        }
    }

    /// Abandons the fast path and returns the error to throw.
    func giveUp() -> Abandoned {
        abandon()
        return Abandoned()
    }

    // MARK: Opening and closing levels

    /// Makes `level` the innermost open level, closing the levels opened inside it.
    /// Returns false (and abandons) when the level is closed or the writer abandoned.
    @inline(__always)
    func activate(_ level: Int, _ token: Int) -> Bool {
        guard !isAbandoned, level >= 0, level < levels.count, levels[level].token == token else {
            abandon()
            return false
        }
        if levels.count > level + 1 { closeLevels(downTo: level + 1) }
        return true
    }

    /// ``activate(_:_:)`` for the throwing methods.
    @inline(__always)
    func require(_ level: Int, _ token: Int) throws {
        guard activate(level, token) else { throw Abandoned() }
    }

    /// Opens a level inside the innermost one; returns its token. A level opened as an
    /// object or array is a nested container; an empty one belongs to an encoder.
    @discardableResult
    func pushLevel(key: LevelKey, content: Content) -> Int {
        lastToken += 1
        if levels.count >= Self.maximumDepth { abandon() }
        levels.append(
            Level(
                token: lastToken, key: key, isNestedContainer: content != .empty, content: content, start: bytes.count,
                count: 0, firstEntry: entries.count, hasNonASCIIKey: false))
        if content == .object {
            bytes.append(UInt8(ascii: "{"))
        } else if content == .array {
            bytes.append(UInt8(ascii: "["))
        }
        return lastToken
    }

    /// Closes levels from the innermost until `count` remain.
    func closeLevels(downTo count: Int) {
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
    func openContainer(level: Int, token: Int, content: Content) -> Bool {
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

    /// Marks the level of a single-value container as written; it must be empty
    /// (Foundation stops the program on a second value).
    func beginScalar(level: Int, token: Int) throws {
        try require(level, token)
        guard levels[level].content == .empty else { throw giveUp() }
        levels[level].content = .scalar
    }

    // MARK: Members and elements

    /// Starts the member `key` of the object at `level`: comma, name, colon.
    func beginMember(_ key: String, level: Int) {
        if levels[level].count > 0 { bytes.append(UInt8(ascii: ",")) }
        levels[level].count += 1
        entries.append(Entry(key: key, start: bytes.count))
        var key = key
        let nonASCII = key.withUTF8 { writeEscaped($0) }
        if nonASCII { levels[level].hasNonASCIIKey = true }
        bytes.append(UInt8(ascii: ":"))
    }

    /// ``beginMember(_:level:)`` after checking the container is still open.
    @inline(__always)
    func beginMember(_ key: some CodingKey, level: Int, token: Int) throws {
        try require(level, token)
        beginMember(key.stringValue, level: level)
    }

    /// Starts the next element of the array at `level`.
    @inline(__always)
    func beginElement(level: Int) {
        if levels[level].count > 0 { bytes.append(UInt8(ascii: ",")) }
        levels[level].count += 1
    }

    /// ``beginElement(level:)`` after checking the container is still open.
    @inline(__always)
    func beginElement(level: Int, token: Int) throws {
        try require(level, token)
        beginElement(level: level)
    }

    /// Encodes `value` as the member `key` of the object at `level`.
    func encodeMember<T: Encodable>(_ value: T, key: some CodingKey, level: Int, token: Int) throws {
        try beginMember(key, level: level, token: token)
        if try writeScalar(value) { return }
        let child = pushLevel(key: .key(key), content: .empty)
        try encodeNested(value, level: level + 1, token: child, emptyIsObject: true)
        closeLevels(downTo: level + 1)
    }

    /// Encodes `value` as the next element of the array at `level`.
    func encodeElement<T: Encodable>(_ value: T, level: Int, token: Int) throws {
        try beginElement(level: level, token: token)
        if try writeScalar(value) { return }
        let child = pushLevel(key: .index(levels[level].count - 1), content: .empty)
        try encodeNested(value, level: level + 1, token: child, emptyIsObject: true)
        closeLevels(downTo: level + 1)
    }

    /// Encodes `value` through a single-value container of `level`.
    func encodeSingle<T: Encodable>(_ value: T, level: Int, token: Int) throws {
        try require(level, token)
        guard levels[level].content == .empty else { throw giveUp() }
        if try writeScalar(value) {
            levels[level].content = .scalar
        } else {
            try encodeNested(value, level: level, token: token, emptyIsObject: true)
        }
    }

    /// Opens a member whose value is written later: a nested container (`content`
    /// `.object` or `.array`) or a super encoder (`.empty`, `{}` if never used, as
    /// Foundation writes for an unused super encoder). Nil when the parent is closed.
    func openMember(_ key: any CodingKey, level: Int, token: Int, content: Content) -> (level: Int, token: Int)? {
        guard activate(level, token) else { return nil }
        beginMember(key.stringValue, level: level)
        return (level + 1, pushLevel(key: .key(key), content: content))
    }

    /// ``openMember(_:level:token:content:)`` for the next element of an array.
    func openElement(level: Int, token: Int, content: Content) -> (level: Int, token: Int)? {
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
    func codingPath(level: Int, token: Int) -> [any CodingKey] {
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
