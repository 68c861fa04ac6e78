/// Postgres addresses that put a session in one schema.
///
/// Each example service owns a schema; its sessions name tables unqualified, so the
/// same SQL serves `orders` in production and `t1234_orders` in a test.
public enum PostgresSearchPath {
    /// `base` with `search_path` set to `schema` for every session opened with it.
    ///
    /// Works for URLs (`postgresql://…`, adding an `options` parameter) and for
    /// key=value conninfo strings (adding `options='-c search_path=…'`).
    /// - Throws: ``ExampleServiceError`` when `schema` is not a plain lower-case identifier:
    ///   it is spliced into the address, so anything else could change the session's options.
    public static func url(_ base: String, schema: String) throws -> String {
        guard isPlainIdentifier(schema) else {
            throw ExampleServiceError("schema '\(schema)' is not a plain lower-case identifier")
        }
        if base.hasPrefix("postgres://") || base.hasPrefix("postgresql://") {
            let separator = base.contains("?") ? "&" : "?"
            return "\(base)\(separator)options=-c%20search_path%3D\(schema)"
        }
        return "\(base) options='-c search_path=\(schema)'"
    }

    /// Whether `name` is a plain lower-case identifier, safe to splice into SQL and URLs.
    public static func isPlainIdentifier(_ name: String) -> Bool {
        guard let first = name.first, first.isLetter || first == "_" else { return false }
        return name.allSatisfy { ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "_" }
    }
}
