/// The bytes of one canonical JSON document being written, and the stack of
/// *levels* still open in it.
///
/// A level is one JSON value under construction: the document itself, the
/// value of an object member, an array element. It starts empty and becomes a
/// scalar, an object or an array when its encoder is first used. Levels nest
/// strictly: writing to a level closes every level opened inside it, the way
/// `encode(to:)` implementations use containers (a nested container is filled,
/// then its parent moves on). Using a closed level again would need the
/// reference semantics of Foundation's tree, so it abandons the fast path
/// instead (``isAbandoned``), and ``CanonicalJSONEncoder/encode(_:)`` lets
/// Foundation encode the value.
///
/// Members of an open object are written as they arrive, each remembered in
/// ``entries`` with its name; when the object closes the members are put in
/// sorted order (see `CanonicalJSONBuffer+Objects.swift`).
///
/// A struct, worked on through one `inout` access per call: kept in the
/// ``CanonicalJSONWriter`` class as separate stored properties, every append
/// paid for a dynamic exclusivity check, which cost as much as the writing.
struct CanonicalJSONBuffer {
    /// What a level holds so far.
    enum Content: UInt8 {
        /// Nothing yet: written as `{}` if it stays so (Foundation's choice for a value that encodes nothing).
        case empty
        /// A complete scalar (or `null`).
        case scalar
        /// An object: `{` written, members follow.
        case object
        /// An array: `[` written, elements follow.
        case array
    }

    /// How a level is reached from its parent; kept only to answer `codingPath`.
    enum LevelKey {
        case root
        case key(any CodingKey)
        case index(Int)
    }

    /// One open level.
    struct Level {
        let token: Int
        let key: LevelKey
        /// Made by a container's `nestedContainer` or `nestedUnkeyedContainer` rather than
        /// for an encoder; see ``CanonicalJSONBuffer/codingPath(level:token:)``.
        let isNestedContainer: Bool
        var content: Content
        /// Offset of the level's `{` or `[` in ``bytes`` (for an object: where reordering starts).
        var start: Int
        /// Members or elements begun so far: the next one needs a comma when this is not 0.
        var count: Int
        /// Index in ``entries`` of this object's first member.
        var firstEntry: Int
        /// Whether a member name has a non-ASCII byte: only then can two different byte
        /// sequences be the same Swift `String` (canonical equivalence), which Foundation's
        /// dictionary would merge.
        var hasNonASCIIKey: Bool
        /// Whether a member name needed escaping, so its bytes in the buffer are not its UTF-8.
        var hasEscapedKey: Bool
    }

    /// A member of an open object: where `"name":value` starts and where the name ends.
    /// Members are sorted by the name's bytes as written (its UTF-8, unless escaped).
    struct Entry {
        /// Offset of the opening quote of the name.
        let start: Int
        /// Offset of the closing quote of the name.
        let nameEnd: Int
        /// The name, kept only when escaping changed its bytes.
        let escapedKey: String?
    }

    /// Thrown to stop the fast path; the caller hands the value to Foundation.
    struct Abandoned: Error {}

    /// Foundation refuses containers nested 512 deep; well before that, leave the value to it.
    static let maximumDepth = 400

    /// The document so far.
    var bytes: [UInt8] = []
    /// The open levels, outermost first.
    var levels: [Level] = []
    /// The members of every open object, in the order they were written.
    var entries: [Entry] = []
    /// The last token handed out.
    var lastToken = 0
    /// Set when the fast path cannot reproduce Foundation's bytes for this value; everything
    /// written afterwards is ignored and every throwing call throws ``Abandoned``.
    private(set) var isAbandoned = false

    init() {
        bytes.reserveCapacity(256)
        levels.reserveCapacity(8)
        entries.reserveCapacity(16)
    }

    /// A buffer for a document written member by member with the scalar writers (an event's
    /// JSON): only the bytes are allocated, `capacity` of them, and no level is ever opened.
    init(scalarsOnlyWithCapacity capacity: Int) {
        bytes.reserveCapacity(capacity)
    }

    /// Gives up on the fast path for this document.
    mutating func abandon() {
        isAbandoned = true
    }

    /// Abandons the fast path and returns the error to throw.
    mutating func giveUp() -> Abandoned {
        abandon()
        return Abandoned()
    }
}
