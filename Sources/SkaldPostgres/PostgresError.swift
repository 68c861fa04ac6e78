/// An error from Postgres or from this library, with everything needed to act on it.
///
/// Server errors carry the SQLSTATE and the server's message, detail and hint;
/// every error that concerns a statement carries its SQL text (never the bound
/// values, which may be secrets).
public struct PostgresError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure this is; stable to match on, unlike the message.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        /// The identifier of the code, e.g. `"query"`.
        public let rawValue: String

        private init(_ rawValue: String) { self.rawValue = rawValue }

        /// Connecting failed: bad URL or conninfo, unreachable server, refused authentication.
        public static let connection = Code("connection")
        /// The connection broke while in use (backend terminated, server restarted, network lost).
        public static let connectionLost = Code("connectionLost")
        /// The server rejected a statement; `sqlState` says why.
        public static let query = Code("query")
        /// A value in a result row could not be decoded into the requested Swift type.
        public static let decoding = Code("decoding")
        /// A statement in a pipeline failed, or the pipeline protocol itself failed.
        public static let pipeline = Code("pipeline")
        /// A migration file is malformed, changed after being applied, or failed to apply.
        public static let migration = Code("migration")
        /// The caller used the API wrongly (e.g. a bad channel name, a nested transaction).
        public static let invalidArgument = Code("invalidArgument")
        /// A value cannot be sent as its type says (text with a NUL byte, a number out of its
        /// array element's range), or the SQL text has a NUL. Nothing was sent, and the
        /// connection carries on: the data is at fault, not the server or the connection.
        public static let unencodableValue = Code("unencodableValue")
        /// The pool or connection has been closed.
        public static let closed = Code("closed")

        /// The identifier, e.g. `query`.
        public var description: String { rawValue }
    }

    /// What kind of failure this is.
    public var code: Code
    /// The five-character SQLSTATE the server reported, if the server reported the error.
    public var sqlState: String?
    /// The primary, human-readable message.
    public var message: String
    /// The server's optional detail line.
    public var detail: String?
    /// The server's optional hint on how to fix the problem.
    public var hint: String?
    /// The SQL text of the statement that failed, if the error concerns one.
    public var statement: String?
    /// For pipelines: the zero-based index of the caller's statement that failed.
    public var statementIndex: Int?

    /// Creates an error; library code and tests use this, callers normally only read errors.
    public init(
        code: Code,
        message: String,
        sqlState: String? = nil,
        detail: String? = nil,
        hint: String? = nil,
        statement: String? = nil,
        statementIndex: Int? = nil
    ) {
        self.code = code
        self.message = message
        self.sqlState = sqlState
        self.detail = detail
        self.hint = hint
        self.statement = statement
        self.statementIndex = statementIndex
    }

    /// SQLSTATE 40001: the transaction lost a serialization conflict and may succeed if re-run.
    public var isSerializationFailure: Bool { sqlState == "40001" }

    /// SQLSTATE 40P01: the transaction was chosen as a deadlock victim and may succeed if re-run.
    public var isDeadlock: Bool { sqlState == "40P01" }

    /// Whether the statement lost a deadlock or gave up waiting for a lock (`lock_timeout`,
    /// `NOWAIT`): its transaction rolled back, and may go again.
    public var isLockConflict: Bool { isDeadlock || sqlState == "55P03" }

    /// The connection is gone and must be replaced; re-running on a fresh one may succeed.
    ///
    /// Covers a lost socket, class 08 (connection exception, except 08P01 which the server
    /// also uses for a wrong parameter count on a healthy session) and the 57P0x shutdown
    /// codes a backend sends when terminated (`pg_terminate_backend`, server restart).
    public var isConnectionLost: Bool {
        if code == .connectionLost { return true }
        guard let sqlState else { return false }
        if sqlState.hasPrefix("08") { return sqlState != "08P01" }
        return sqlState == "57P01" || sqlState == "57P02" || sqlState == "57P03"
    }

    /// One line with the code, SQLSTATE, message, detail, hint and statement.
    public var description: String {
        var text = "PostgresError.\(code)"
        if let sqlState { text += " [\(sqlState)]" }
        text += ": \(message)"
        if let detail { text += "; detail: \(detail)" }
        if let hint { text += "; hint: \(hint)" }
        if let statementIndex { text += "; statement #\(statementIndex)" }
        if let statement { text += "; statement: \(statement)" }
        return text
    }
}
