/// Closing an object: its members are put in the order Foundation writes them.
///
/// swift-foundation's `JSONWriter` (the one in Swift 6.3 on Linux) sorts the
/// members of an object with `.sortedKeys` by comparing the names' UTF-8 bytes
/// (`a.key.utf8.lexicographicallyPrecedes(b.key.utf8)`): `"" < "10" < "9" <
/// "A" < "B" < "a" < "é"`. Its objects are Swift dictionaries, so a name
/// written twice keeps one value (and names that are equal as Swift `String`s,
/// canonically equivalent, count as one); those rare objects are left to
/// Foundation rather than imitated.
extension CanonicalJSONBuffer {
    /// Sorts the members of `level` (already removed from the stack), writes `}`
    /// and forgets its entries.
    mutating func finishObject(_ level: Level) {
        let count = entries.count - level.firstEntry
        if count > 1 { sortMembers(of: level) }
        entries.removeLast(count)
        bytes.append(UInt8(ascii: "}"))
    }

    /// Rewrites the members of the object `level` in sorted order. The members were
    /// written as `"name":value` separated by commas; each one is a segment of the
    /// buffer that starts at its entry's `start`, so reordering copies the object's
    /// bytes once (an object already in order is left alone).
    ///
    /// The order of the members and the copy of the object's bytes are temporary
    /// allocations, on the stack when small: nearly every document sorts an object, and the
    /// up to two heap arrays that took were about 3 % of the orchestrator's allocations.
    private mutating func sortMembers(of level: Level) {
        let first = level.firstEntry
        let count = entries.count - first
        withUnsafeTemporaryAllocation(of: Int.self, capacity: count) { order in
            for position in 0..<count { order.initializeElement(at: position, to: first + position) }
            reorderMembers(of: level, order: order)
        }
    }

    /// ``sortMembers(of:)`` with `order` holding the object's entry indices as written.
    private mutating func reorderMembers(of level: Level, order: UnsafeMutableBufferPointer<Int>) {
        let entries = self.entries
        let first = level.firstEntry
        let unique: Bool
        if level.hasEscapedKey {
            // A name with escapes: compare the names themselves (rare).
            let names = entries.map { $0.escapedKey ?? String(decoding: bytes[($0.start + 1)..<$0.nameEnd], as: UTF8.self) }
            unique = Self.sort(order) { Self.compareUTF8(names[$0], names[$1]) }
        } else {
            // The usual case: the names as written are their UTF-8 bytes.
            unique = bytes.withUnsafeBufferPointer { buffer in
                Self.sort(order) { left, right in
                    Self.compare(
                        UnsafeBufferPointer(rebasing: buffer[(entries[left].start + 1)..<entries[left].nameEnd]),
                        UnsafeBufferPointer(rebasing: buffer[(entries[right].start + 1)..<entries[right].nameEnd]))
                }
            }
        }
        // The same name twice: Foundation keeps one value, chosen by its dictionary.
        guard unique else { return abandon() }
        if level.hasNonASCIIKey {
            var names = Set<String>()
            for entry in entries[first...] {
                let name = entry.escapedKey ?? String(decoding: bytes[(entry.start + 1)..<entry.nameEnd], as: UTF8.self)
                if !names.insert(name).inserted { return abandon() }
            }
        }
        var inOrder = true
        for position in order.indices where order[position] != first + position {
            inOrder = false
            break
        }
        if inOrder { return }

        let regionStart = level.start + 1  // after "{"
        let end = bytes.count
        let last = entries.count - 1
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: end - regionStart) { region in
            bytes.withUnsafeBufferPointer { written in
                _ = region.initialize(fromContentsOf: UnsafeBufferPointer(rebasing: written[regionStart..<end]))
            }
            bytes.removeLast(end - regionStart)
            for (position, index) in order.enumerated() {
                if position > 0 { bytes.append(UInt8(ascii: ",")) }
                let from = entries[index].start - regionStart
                // A segment ends at the comma before the next member, or at the end of the object.
                let to = (index < last ? entries[index + 1].start - 1 : end) - regionStart
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: region[from..<to]))
            }
        }
    }

    /// Sorts `order` with `compare` (negative, zero, positive); false when two elements
    /// compare equal. A struct's few members take an insertion sort (nothing moves when
    /// they are in order already), a large dictionary the library's sort.
    private static func sort(_ order: UnsafeMutableBufferPointer<Int>, by compare: (Int, Int) -> Int) -> Bool {
        if order.count <= 16 {
            for position in 1..<order.count {
                let index = order[position]
                var hole = position
                while hole > 0, compare(index, order[hole - 1]) < 0 {
                    order[hole] = order[hole - 1]
                    hole -= 1
                }
                order[hole] = index
            }
        } else {
            var elements = order  // the same memory: sorts `order` in place
            elements.sort { compare($0, $1) < 0 }
        }
        for position in 1..<order.count where compare(order[position - 1], order[position]) == 0 { return false }
        return true
    }

    /// Compares two byte strings: negative, zero or positive.
    static func compare(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Int {
        let common = min(a.count, b.count)
        for index in 0..<common where a[index] != b[index] {
            return a[index] < b[index] ? -1 : 1
        }
        return a.count - b.count
    }

    /// Compares two strings by their UTF-8 bytes: negative, zero or positive.
    static func compareUTF8(_ left: String, _ right: String) -> Int {
        var left = left
        var right = right
        return left.withUTF8 { a in right.withUTF8 { b in compare(a, b) } }
    }
}
