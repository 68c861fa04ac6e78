import CLibPQ

/// Owns one libpq result and frees it when the last row referring to it goes away.
///
/// A `PGresult` is immutable once complete, so reading it from any thread is safe.
final class PostgresResult: @unchecked Sendable {
    let handle: OpaquePointer
    let rowCount: Int
    let columnCount: Int
    let sql: String

    init(handle: OpaquePointer, sql: String) {
        self.handle = handle
        self.rowCount = Int(PQntuples(handle))
        self.columnCount = Int(PQnfields(handle))
        self.sql = sql
    }

    deinit { PQclear(handle) }

    func columnName(_ column: Int) -> String {
        PQfname(handle, Int32(column)).map { String(cString: $0) } ?? "?column?"
    }

    func columnIndex(named name: String) -> Int? {
        for column in 0..<columnCount where columnName(column) == name {
            return column
        }
        return nil
    }

    func cell(row: Int, column: Int) -> PostgresCell {
        let r = Int32(row)
        let c = Int32(column)
        let bytes: UnsafeRawBufferPointer?
        if PQgetisnull(handle, r, c) != 0 {
            bytes = nil
        } else {
            bytes = UnsafeRawBufferPointer(start: PQgetvalue(handle, r, c), count: Int(PQgetlength(handle, r, c)))
        }
        return PostgresCell(
            bytes: bytes,
            dataType: PostgresDataType(oid: PQftype(handle, c)),
            columnIndex: column,
            result: self
        )
    }
}

/// The outcome of one statement: its rows (possibly none) and its command tag.
public struct PostgresRows: Sendable, RandomAccessCollection {
    let result: PostgresResult?

    init(result: PostgresResult?) { self.result = result }

    /// The first row's index, 0.
    public var startIndex: Int { 0 }
    /// The number of rows.
    public var endIndex: Int { result?.rowCount ?? 0 }

    /// The row at `position`.
    public subscript(position: Int) -> PostgresRow {
        PostgresRow(result: result, index: position)
    }

    /// The column names, in order.
    public var columns: [String] {
        guard let result else { return [] }
        return (0..<result.columnCount).map(result.columnName)
    }

    /// The command tag, e.g. `INSERT 0 1` or `SELECT 3`.
    public var commandTag: String {
        guard let result, let tag = PQcmdStatus(result.handle) else { return "" }
        return String(cString: tag)
    }

    /// Rows inserted, updated, deleted, selected, … by the statement (0 if it has no count).
    public var affectedRows: Int {
        guard let result, let text = PQcmdTuples(result.handle) else { return 0 }
        return Int(String(cString: text)) ?? 0
    }

    /// Decodes column `column` of every row.
    public func decode<Value: PostgresDecodable>(_ type: Value.Type, column: Int = 0) throws -> [Value] {
        try map { try $0.decode(type, at: column) }
    }
}

/// One row of a result.
public struct PostgresRow: Sendable {
    let result: PostgresResult?
    /// The row's zero-based position in its result.
    public let index: Int

    /// The number of columns.
    public var columnCount: Int { result?.columnCount ?? 0 }

    /// Whether the value at `column` is SQL NULL.
    public func isNull(at column: Int) -> Bool {
        guard let result, column >= 0, column < result.columnCount else { return true }
        return PQgetisnull(result.handle, Int32(index), Int32(column)) != 0
    }

    /// The result, when `column` is one of its columns.
    private func result(holding column: Int) throws -> PostgresResult {
        guard let result, column >= 0, column < result.columnCount else {
            throw PostgresError(
                code: .decoding,
                message: "column index \(column) is out of range: the row has \(columnCount) columns",
                statement: result?.sql
            )
        }
        return result
    }

    /// The value at `column` as the server sent it (its text form), or nil for SQL NULL.
    ///
    /// For values that go on as bytes, such as a payload read from the outbox to be published:
    /// decoding a `String` and copying its UTF-8 out again would copy it twice.
    public func textBytes(at column: Int) throws -> [UInt8]? {
        let result = try result(holding: column)
        let row = Int32(index)
        let column = Int32(column)
        guard PQgetisnull(result.handle, row, column) == 0 else { return nil }
        return Array(UnsafeRawBufferPointer(start: PQgetvalue(result.handle, row, column), count: Int(PQgetlength(result.handle, row, column))))
    }

    /// Decodes the value at `column` (zero-based).
    public func decode<Value: PostgresDecodable>(_ type: Value.Type, at column: Int) throws -> Value {
        let result = try result(holding: column)
        do {
            return try Value.decode(from: result.cell(row: index, column: column))
        } catch var error as PostgresError {
            if error.statement == nil { error.statement = result.sql }
            throw error
        }
    }

    /// Decodes the value of the column called `name` (exact, case-sensitive match).
    public func decode<Value: PostgresDecodable>(_ type: Value.Type, named name: String) throws -> Value {
        guard let result, let column = result.columnIndex(named: name) else {
            let known = (0..<columnCount).map { result?.columnName($0) ?? "" }.joined(separator: ", ")
            throw PostgresError(
                code: .decoding,
                message: "no column named \"\(name)\"; the row has: \(known)",
                statement: result?.sql
            )
        }
        return try decode(type, at: column)
    }

    /// Decodes a JSON/JSONB column straight into a `Decodable` value.
    public func decodeJSON<Value: Codable & Sendable>(_ type: Value.Type, at column: Int) throws -> Value {
        try decode(PostgresJSON<Value>.self, at: column).value
    }

    /// Decodes the first columns as a tuple: `let (id, name) = try row.decode((Int, String).self)`.
    public func decode<each Value: PostgresDecodable>(_ types: (repeat each Value).Type) throws -> (repeat each Value) {
        var wanted = 0
        for _ in repeat (each Value).self { wanted += 1 }
        guard wanted <= columnCount else {
            throw PostgresError(
                code: .decoding,
                message: "cannot decode \(wanted) values from a row of \(columnCount) columns",
                statement: result?.sql
            )
        }
        var column = 0
        func next<V: PostgresDecodable>(_ type: V.Type) throws -> V {
            defer { column += 1 }
            return try decode(type, at: column)
        }
        return (repeat try next((each Value).self))
    }
}
