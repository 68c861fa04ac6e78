/// A Swift type that can be bound as a statement parameter.
public protocol PostgresEncodable: Sendable {
    /// The type sent with the parameter; `.unspecified` lets the server infer it.
    static var postgresDataType: PostgresDataType { get }
    /// Writes the value in Postgres text format (or `writeNull()`).
    func encode(into writer: inout PostgresTextWriter)
}

/// A Swift type that can be decoded from a result column.
public protocol PostgresDecodable {
    /// Decodes the cell; throws a ``PostgresError`` with code `.decoding` naming the
    /// column, this type and the actual value when the cell does not fit.
    static func decode(from cell: PostgresCell) throws -> Self
}

/// A type that is both ``PostgresEncodable`` and ``PostgresDecodable``.
public typealias PostgresCodable = PostgresEncodable & PostgresDecodable

/// One value of a result row, valid only during the `decode` call that receives it.
public struct PostgresCell {
    /// The value's text bytes, or nil for SQL NULL.
    public let bytes: UnsafeRawBufferPointer?
    /// The column's type.
    public let dataType: PostgresDataType
    /// The column's zero-based index.
    public let columnIndex: Int
    /// The result the cell belongs to, for the column's name: looked up only when asked for,
    /// since copying it out of libpq for every decoded value cost as much as many decodes.
    let result: PostgresResult

    /// The column's name as the server reported it.
    public var columnName: String { result.columnName(columnIndex) }

    /// The value as a string (nil for NULL).
    public var text: String? {
        bytes.map { String(decoding: $0, as: UTF8.self) }
    }

    /// The error to throw when this cell cannot become `type`; names column, type and value.
    public func decodingError(_ type: Any.Type, reason: String? = nil) -> PostgresError {
        let shown: String
        if let text {
            shown = text.count > 80 ? "'\(text.prefix(80))…'" : "'\(text)'"
        } else {
            shown = "NULL"
        }
        var message = "column \"\(columnName)\" (index \(columnIndex)) of type \(dataType) with value \(shown) cannot be decoded as \(type)"
        if let reason { message += ": \(reason)" }
        return PostgresError(code: .decoding, message: message)
    }

    /// The non-NULL bytes, or a decoding error naming `type`.
    public func requireBytes(for type: Any.Type) throws -> UnsafeRawBufferPointer {
        guard let bytes else {
            throw decodingError(type, reason: "the value is NULL; decode an Optional")
        }
        return bytes
    }
}

// MARK: - Optional

extension Optional: PostgresEncodable where Wrapped: PostgresEncodable {
    /// NULL is sent with the wrapped type so the server still knows what it is.
    public static var postgresDataType: PostgresDataType { Wrapped.postgresDataType }

    /// Encodes the wrapped value, or NULL.
    public func encode(into writer: inout PostgresTextWriter) {
        switch self {
        case .some(let value): value.encode(into: &writer)
        case .none: writer.writeNull()
        }
    }
}

extension Optional: PostgresDecodable where Wrapped: PostgresDecodable {
    /// NULL becomes nil; anything else decodes as `Wrapped`.
    public static func decode(from cell: PostgresCell) throws -> Wrapped? {
        guard cell.bytes != nil else { return nil }
        return try Wrapped.decode(from: cell)
    }
}
