import Foundation

/// A Codable value stored in a `jsonb` (or `json`) column.
///
/// Bind it as a parameter, `"INSERT … VALUES (\(PostgresJSON(order)))"`, and decode it
/// with `row.decode(PostgresJSON<Order>.self, at: 0).value`, or use
/// ``PostgresRow/decodeJSON(_:at:)``.
public struct PostgresJSON<Value: Codable & Sendable>: PostgresCodable, Sendable {
    /// The wrapped value.
    public var value: Value

    /// Wraps `value`.
    public init(_ value: Value) { self.value = value }

    /// `jsonb`
    public static var postgresDataType: PostgresDataType { .jsonb }

    /// Writes the value as JSON; an encoder failure fails the statement with its message.
    public func encode(into writer: inout PostgresTextWriter) {
        do {
            let data = try JSONEncoder().encode(value)
            writer.write(bytes: data)
        } catch {
            writer.fail("cannot encode \(Value.self) as JSON: \(error)")
        }
    }

    /// Decodes `json`, `jsonb` or JSON held in a text column.
    public static func decode(from cell: PostgresCell) throws -> PostgresJSON<Value> {
        let bytes = try cell.requireBytes(for: Value.self)
        guard cell.dataType == .json || cell.dataType == .jsonb || cell.dataType.isTextLike else {
            throw cell.decodingError(Value.self, reason: "expected json or jsonb")
        }
        do {
            let value = try JSONDecoder().decode(Value.self, from: Data(bytes))
            return PostgresJSON(value)
        } catch {
            throw cell.decodingError(Value.self, reason: "invalid JSON for this type: \(error)")
        }
    }
}
