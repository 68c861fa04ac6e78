/// The coding keys ``CanonicalJSONEncoder`` makes up itself, spelled as
/// Foundation's `JSONEncoder` spells them, so `codingPath` reads the same.
struct CanonicalJSONKey: CodingKey {
    let stringValue: String
    let intValue: Int?

    init(stringValue: String) {
        self.stringValue = stringValue
        self.intValue = nil
    }

    init(intValue: Int) {
        self.stringValue = "\(intValue)"
        self.intValue = intValue
    }

    /// The key of an array element in a coding path: `Index 3`.
    init(index: Int) {
        self.stringValue = "Index \(index)"
        self.intValue = index
    }

    /// The member a keyed container's `superEncoder()` writes.
    static let `super` = CanonicalJSONKey(stringValue: "super")
}
