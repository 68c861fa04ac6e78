/// Closing an object: its members are put in the order Foundation writes them.
///
/// swift-foundation's `JSONWriter` (the one in Swift 6.3 on Linux) sorts the
/// members of an object with `.sortedKeys` by comparing the names' UTF-8 bytes
/// (`a.key.utf8.lexicographicallyPrecedes(b.key.utf8)`): `"A" < "B" < "a"`,
/// `"10" < "9"`, `"" ` first. Its objects are Swift dictionaries, so a name
/// written twice keeps one value (and names that are equal as Swift `String`s,
/// canonically equivalent, count as one); those rare objects are left to
/// Foundation rather than imitated.
extension CanonicalJSONWriter {
    /// Sorts the members of `level` (already removed from the stack), writes `}`
    /// and forgets its entries.
    func finishObject(_ level: Level) {
        let first = level.firstEntry
        let count = entries.count - first
        if count > 1 { sortMembers(of: level) }
        entries.removeLast(count)
        bytes.append(UInt8(ascii: "}"))
    }

    /// Rewrites the members of the object `level` in sorted order. The members were
    /// written as `"name":value` separated by commas; each one is a segment of the
    /// buffer that starts at its entry's `start`, so reordering copies the object's
    /// bytes once (an object already in order is left alone).
    private func sortMembers(of level: Level) {
        let entries = self.entries
        let first = level.firstEntry
        var order = self.order
        self.order = []
        defer { self.order = order }
        order.removeAll(keepingCapacity: true)
        order.append(contentsOf: first..<entries.count)

        if order.count <= 16 {
            // A struct's few members: insertion sort, no closure, and nothing to do when already sorted.
            for position in 1..<order.count {
                let index = order[position]
                var hole = position
                while hole > 0, Self.compareUTF8(entries[index].key, entries[order[hole - 1]].key) < 0 {
                    order[hole] = order[hole - 1]
                    hole -= 1
                }
                order[hole] = index
            }
        } else {
            order.sort { Self.compareUTF8(entries[$0].key, entries[$1].key) < 0 }
        }

        // The same name twice: Foundation keeps one value, chosen by its dictionary.
        for position in 1..<order.count where Self.compareUTF8(entries[order[position - 1]].key, entries[order[position]].key) == 0 {
            abandon()
            return
        }
        if level.hasNonASCIIKey {
            var names = Set<String>()
            for index in order where !names.insert(entries[index].key).inserted {
                abandon()
                return
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
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: bytes[regionStart..<end])
        bytes.removeLast(end - regionStart)
        let last = entries.count - 1
        scratch.withUnsafeBufferPointer { region in
            for (position, index) in order.enumerated() {
                if position > 0 { bytes.append(UInt8(ascii: ",")) }
                let from = entries[index].start - regionStart
                // A segment ends at the comma before the next member, or at the end of the object.
                let to = (index < last ? entries[index + 1].start - 1 : end) - regionStart
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: region[from..<to]))
            }
        }
    }

    /// Compares two strings by their UTF-8 bytes: negative, zero or positive.
    static func compareUTF8(_ left: String, _ right: String) -> Int {
        var left = left
        var right = right
        return left.withUTF8 { a in
            right.withUTF8 { b in
                let common = min(a.count, b.count)
                for index in 0..<common where a[index] != b[index] {
                    return a[index] < b[index] ? -1 : 1
                }
                return a.count - b.count
            }
        }
    }
}
