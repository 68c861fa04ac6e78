/// A JSON document parsed once into a flat list of nodes, read by
/// ``JSONTapeDecoder`` to decode Skald's hot inputs (stored event rows, reply
/// payloads) without Foundation's `JSONDecoder`.
///
/// Like ``CanonicalJSONEncoder`` it is a fast path with Foundation behind it:
/// ``decode(_:userInfo:_:)`` returns a value only when it is certainly the value
/// `JSONDecoder()` would return, and nil otherwise, and the caller then decodes
/// with `JSONDecoder` (which also reports every error, so bad input gets
/// Foundation's messages). Certainty comes from being stricter than Foundation
/// everywhere:
///
/// - the parser accepts only RFC 8259 JSON in UTF-8 without a byte order mark,
///   validates every string (escapes, control characters, UTF-8) up front, and
///   gives up on escaped surrogates and on nesting deeper than 400 (Foundation
///   checks strings lazily and allows 512: what it accepts is a superset);
/// - any error the tape's decoder or containers throw, even one the decoded
///   type catches, gives up, so error-driven control flow in `init(from:)`
///   never sees a difference (``JSONValue`` reads itself from the tape directly
///   for that reason);
/// - numbers are read as Foundation reads them (`strtod`/`strtof` via the
///   standard library for floating point, integers only from integer literals),
///   and whatever Foundation treats specially (`Date`, `Data`, `URL`,
///   `Decimal`, reading `codingPath`) gives up.
///
/// Objects keep Foundation's dictionary semantics: a name is looked up with
/// `String` equality (canonical equivalence) and the first of equal names
/// wins; `allKeys` of an object with equal names gives up.
final class JSONTape {
    /// What a node is.
    enum Kind: UInt8 {
        case null, `true`, `false`, number, string, array, object
    }

    /// One JSON value. Containers are followed by their children (an object's as
    /// name, value, name, value…); `next` is the index after the whole subtree.
    struct Node {
        var kind: Kind
        /// A string with escapes (its bytes are not its text); a number with a
        /// fraction or exponent (not an integer literal).
        var flag: Bool
        /// Scalars: the bytes of the number, or of the string between its quotes.
        var start: Int
        var end: Int
        /// Containers: the number of elements, or of members.
        var count: Int
        var next: Int
    }

    /// Thrown inside the fast path; the caller decodes with Foundation instead.
    struct Abandoned: Error {}

    /// Foundation refuses nesting 512 deep; well before that, leave it to Foundation.
    static let maximumDepth = 400

    let bytes: [UInt8]
    /// The document's nodes, the root first, and one extra `null` node at the end
    /// (what `superDecoder(forKey:)` of a missing key reads, as in Foundation).
    let nodes: [Node]
    let userInfo: [CodingUserInfoKey: Any]
    /// Set by anything the fast path cannot vouch for; the result is then discarded.
    private(set) var isAbandoned = false

    private init(bytes: [UInt8], nodes: [Node], userInfo: [CodingUserInfoKey: Any]) {
        self.bytes = bytes
        self.nodes = nodes
        self.userInfo = userInfo
    }

    /// Decodes `bytes` with `body` (given a decoder for the whole document); nil when
    /// the fast path cannot vouch for the result, so the caller must use `JSONDecoder`.
    static func decode<T>(
        _ bytes: [UInt8], userInfo: [CodingUserInfoKey: Any] = [:], _ body: (JSONTapeDecoder) throws -> T
    ) -> T? {
        guard let nodes = JSONTapeParser.parse(bytes) else { return nil }
        let tape = JSONTape(bytes: bytes, nodes: nodes, userInfo: userInfo)
        guard let value = try? body(JSONTapeDecoder(tape: tape, node: 0)), !tape.isAbandoned else { return nil }
        return value
    }

    /// The index of the `null` node after the document.
    var nullNode: Int { nodes.count - 1 }

    /// Gives up on the fast path; returns the error to throw.
    func giveUp() -> Abandoned {
        isAbandoned = true
        return Abandoned()
    }
}
