/// A statement and its parameters, kept apart so that values never become SQL text.
///
/// Write it as a string literal where every interpolation becomes a `$n` parameter:
///
/// ```swift
/// let query: PostgresQuery = "SELECT name FROM users WHERE id = \(id) AND active = \(true)"
/// // sql: "SELECT name FROM users WHERE id = $1 AND active = $2"
/// ```
///
/// or explicitly: `PostgresQuery("SELECT $1::int + $2", [PostgresValue(1), PostgresValue(2)])`.
public struct PostgresQuery: Sendable, Hashable, ExpressibleByStringInterpolation, CustomStringConvertible {
    /// The SQL text with `$1 … $n` placeholders.
    public var sql: String
    /// The parameter values, in placeholder order.
    public var bindings: PostgresBindings

    /// A statement with already-encoded parameters.
    public init(_ sql: String, _ values: [PostgresValue] = []) {
        self.sql = sql
        var bindings = PostgresBindings(capacity: values.count)
        // Room for every value at once: a batch's column arrays are hundreds of kilobytes,
        // and a buffer doubled on the way copied them about twice over.
        var byteCount = 0
        for value in values { byteCount += (value.bytes?.count ?? 0) + 1 }
        bindings.reserveByteCapacity(byteCount)
        for value in values { bindings.append(value) }
        self.bindings = bindings
    }

    /// A statement with parameters built with ``PostgresBindings/append(_:)-(Value)``.
    public init(sql: String, bindings: PostgresBindings) {
        self.sql = sql
        self.bindings = bindings
    }

    /// A statement without parameters.
    public init(stringLiteral value: String) {
        self.sql = value
        self.bindings = PostgresBindings()
    }

    /// A statement whose interpolations became parameters.
    public init(stringInterpolation: StringInterpolation) {
        self.sql = stringInterpolation.sql
        self.bindings = stringInterpolation.bindings
    }

    /// The SQL text only; bound values are never printed because they may be secrets.
    public var description: String { sql }

    /// Builds the SQL text and the parameters of an interpolated query literal.
    public struct StringInterpolation: StringInterpolationProtocol {
        /// The SQL so far.
        public var sql: String
        /// The parameters so far.
        public var bindings: PostgresBindings

        /// Reserves room for the literal.
        public init(literalCapacity: Int, interpolationCount: Int) {
            sql = ""
            sql.reserveCapacity(literalCapacity + interpolationCount * 3)
            bindings = PostgresBindings(capacity: interpolationCount)
        }

        /// SQL text, copied as written.
        public mutating func appendLiteral(_ literal: String) {
            sql.append(literal)
        }

        /// A value: becomes the next `$n` parameter.
        public mutating func appendInterpolation<Value: PostgresEncodable>(_ value: Value) {
            bindings.append(value)
            sql.append("$")
            sql.append(String(bindings.count))
        }

        /// An optional value: becomes the next `$n` parameter, NULL when nil.
        public mutating func appendInterpolation<Value: PostgresEncodable>(_ value: Value?) {
            bindings.append(value)
            sql.append("$")
            sql.append(String(bindings.count))
        }

        /// A pre-encoded value: becomes the next `$n` parameter.
        public mutating func appendInterpolation(_ value: PostgresValue) {
            bindings.append(value)
            sql.append("$")
            sql.append(String(bindings.count))
        }

        /// An identifier (table, column, channel), quoted with `"…"` so it can never end the
        /// identifier early; Postgres cannot bind identifiers as parameters.
        public mutating func appendInterpolation(identifier: String) {
            sql.append(PostgresQuery.quoteIdentifier(identifier))
        }
    }

    /// Quotes an identifier the way `quote_ident` does: wraps it in `"` and doubles any `"`.
    public static func quoteIdentifier(_ identifier: String) -> String {
        var quoted = "\""
        for character in identifier {
            if character == "\"" { quoted.append("\"") }
            quoted.append(character)
        }
        quoted.append("\"")
        return quoted
    }
}
