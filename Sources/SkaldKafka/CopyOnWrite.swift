/// A value held by one reference and copied only when it is changed while shared, as
/// `Array` holds its elements.
///
/// A message is copied several times on its way (into a batch, a lane, a hand-over, a
/// delivery report), and as a plain struct each copy retained every array and string in it
/// (the key, the value, the headers' two buffers, a long topic name) and released them
/// again: a reference count or five per copy. Boxed, a copy is one.
///
/// `@unchecked Sendable`: the box is only written through ``CopyOnWrite/value`` while no
/// other copy refers to it (`isKnownUniquelyReferenced`), so no two tasks ever share a box
/// that changes.
@usableFromInline
struct CopyOnWrite<Value: Sendable & Hashable>: Sendable, Hashable {
    @usableFromInline
    final class Box: @unchecked Sendable {
        @usableFromInline
        var value: Value

        @inlinable
        init(_ value: Value) {
            self.value = value
        }
    }

    @usableFromInline
    var box: Box

    @inlinable
    init(_ value: Value) {
        box = Box(value)
    }

    /// The value, read in place; changing it copies it first when another copy shares it.
    @inlinable
    var value: Value {
        _read { yield box.value }
        _modify {
            if !isKnownUniquelyReferenced(&box) { box = Box(box.value) }
            yield &box.value
        }
    }

    @inlinable
    static func == (lhs: CopyOnWrite, rhs: CopyOnWrite) -> Bool {
        lhs.box === rhs.box || lhs.box.value == rhs.box.value
    }

    @inlinable
    func hash(into hasher: inout Hasher) {
        box.value.hash(into: &hasher)
    }
}
