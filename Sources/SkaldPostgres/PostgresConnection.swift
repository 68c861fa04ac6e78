import CLibPQ
import Foundation
public import Logging
import Synchronization

/// One libpq connection, isolated to a thread of its own.
///
/// Every libpq call blocks, so the actor runs on a ``PostgresThreadExecutor`` rather than
/// the cooperative pool: awaiting a query parks only the caller's task. A connection runs
/// one statement (or one pipeline) at a time; share it between tasks through a
/// ``PostgresPool``, which also replaces connections that die.
public actor PostgresConnection {
    private nonisolated let executor: PostgresThreadExecutor
    // Touched only on the connection thread, and by deinit when no one else can.
    private nonisolated(unsafe) var handle: OpaquePointer?
    /// Prepared statements of this session, by SQL text and parameter types.
    var statementNames: [StatementKey: String] = [:]
    private var nextStatementNumber = 0
    /// How many statements the connection prepares automatically before it falls back to unnamed ones.
    public nonisolated let statementCacheCapacity: Int
    private let brokenFlag = Atomic<Bool>(false)
    /// Set by libpq's notice receiver when the server sends FATAL outside a query: the
    /// backend was terminated while the connection sat idle. Owned by this actor.
    private nonisolated(unsafe) let fatalNotice: UnsafeMutablePointer<Bool>
    let logger: Logger

    /// The process id of the server backend serving this connection (for `pg_terminate_backend`, NOTIFY senders).
    public nonisolated let backendPID: Int32

    /// Runs the actor on the connection's own thread.
    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        executor.asUnownedSerialExecutor()
    }

    private init(
        executor: PostgresThreadExecutor,
        handle: OpaquePointer,
        fatalNotice: UnsafeMutablePointer<Bool>,
        statementCacheCapacity: Int,
        logger: Logger
    ) {
        self.executor = executor
        self.handle = handle
        self.fatalNotice = fatalNotice
        self.statementCacheCapacity = statementCacheCapacity
        self.logger = logger
        self.backendPID = PQbackendPID(handle)
    }

    deinit {
        if let handle { PQfinish(handle) }
        fatalNotice.deallocate()
        executor.shutdown()
    }

    /// Opens a connection.
    ///
    /// - Parameters:
    ///   - urlOrConninfo: a `postgres://user:password@host:port/db?param=value` URL or a
    ///     `host=… port=… dbname=…` conninfo string; any libpq parameter passes through.
    ///   - connectTimeout: seconds to wait for the server unless the URL sets `connect_timeout`.
    ///   - statementCacheCapacity: how many distinct SQL texts are prepared automatically.
    /// - Throws: ``PostgresError`` with code `.connection`, naming the (password-redacted) target and libpq's reason.
    public static func connect(
        to urlOrConninfo: String,
        connectTimeout: Int = 10,
        statementCacheCapacity: Int = 256,
        logger: Logger = Logger(label: "skald.postgres")
    ) async throws -> PostgresConnection {
        let executor = PostgresThreadExecutor(name: "skald-postgres")
        let fatalNotice = UnsafeMutablePointer<Bool>.allocate(capacity: 1)
        fatalNotice.initialize(to: false)
        let flag = FlagBox(pointer: fatalNotice)
        do {
            let handle = try await executor.run {
                try HandleBox(open(urlOrConninfo, connectTimeout: connectTimeout, fatalNotice: flag.pointer))
            }
            return PostgresConnection(
                executor: executor,
                handle: handle.pointer,
                fatalNotice: fatalNotice,
                statementCacheCapacity: statementCacheCapacity,
                logger: logger
            )
        } catch {
            fatalNotice.deallocate()
            executor.shutdown()
            throw error
        }
    }

    /// Connects and prepares the session; runs on the connection's thread.
    static func open(_ target: String, connectTimeout: Int, fatalNotice: UnsafeMutablePointer<Bool>? = nil) throws -> OpaquePointer {
        // Defaults a URL may override. Keepalives make a dead network (a half-open TCP
        // connection) surface as an error in about a minute instead of ~15 minutes.
        let keywords = [
            "connect_timeout", "fallback_application_name", "keepalives", "keepalives_idle", "keepalives_interval",
            "keepalives_count", "dbname",
        ]
        let values = [String(connectTimeout), "skald", "1", "30", "10", "3", target]
        let handle: OpaquePointer? = withCStrings(keywords) { keywordPointers in
            withCStrings(values) { valuePointers in
                PQconnectdbParams(keywordPointers, valuePointers, 1)
            }
        }
        guard let handle else {
            throw PostgresError(code: .connection, message: "cannot connect to \(redacted(target)): out of memory")
        }
        guard PQstatus(handle) == CONNECTION_OK else {
            let reason = redactingPassword(in: errorMessage(of: handle), of: target)
            PQfinish(handle)
            throw PostgresError(code: .connection, message: "cannot connect to \(redacted(target)): \(reason)")
        }
        // Server notices (e.g. "there is no transaction in progress") must not go to stderr.
        // libpq also hands an error that arrives while idle to this receiver: a FATAL one
        // means the backend is going away, which the flag records for checkAlive().
        PQsetNoticeReceiver(handle, { context, result in
            guard let context, let result,
                  let severity = PQresultErrorField(result, Int32(UInt8(ascii: "V"))) else { return }
            let level = String(cString: severity)
            if level == "FATAL" || level == "PANIC" {
                context.assumingMemoryBound(to: Bool.self).pointee = true
            }
        }, fatalNotice.map { UnsafeMutableRawPointer($0) })
        // Dates are parsed from ISO text; make sure the session produces it whatever the server default.
        if let result = PQexec(handle, "SET DateStyle TO 'ISO, MDY'") {
            let ok = PQresultStatus(result) == PGRES_COMMAND_OK
            let message = PQresultErrorMessage(result).map { String(cString: $0) } ?? ""
            PQclear(result)
            if !ok {
                PQfinish(handle)
                throw PostgresError(code: .connection, message: "cannot prepare the session on \(redacted(target)): \(message)")
            }
        }
        return handle
    }

    /// Whether the connection is known to be unusable (closed, or its server went away).
    ///
    /// Readable from any task without waiting for the connection's thread.
    public nonisolated var isBroken: Bool { brokenFlag.load(ordering: .relaxed) }

    /// Whether the server still answers, checked without a round trip when possible.
    ///
    /// Reads whatever the server sent while the connection sat idle: a terminated backend
    /// leaves an error and end-of-file on the socket, which this turns into `false`.
    public func checkAlive() -> Bool {
        guard let handle, PQstatus(handle) == CONNECTION_OK else {
            markBroken()
            return false
        }
        let socket = PQsocket(handle)
        guard socket >= 0 else {
            markBroken()
            return false
        }
        var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        // An idle session receives nothing but notifications; a terminated backend sends a
        // FATAL error and then end-of-file, which may take more than one read to see.
        var reads = 0
        while reads < 8, poll(&descriptor, 1, 0) > 0 {
            reads += 1
            if PQconsumeInput(handle) == 0 || PQstatus(handle) != CONNECTION_OK || fatalNotice.pointee {
                markBroken()
                return false
            }
            while PQisBusy(handle) == 0, let result = PQgetResult(handle) {
                PQclear(result)
            }
            if fatalNotice.pointee {
                markBroken()
                return false
            }
            descriptor.revents = 0
        }
        return true
    }

    /// Closes the connection; later calls fail with `.closed`.
    public func close() {
        if let handle {
            PQfinish(handle)
            self.handle = nil
        }
        markBroken()
    }

    // MARK: - Queries

    /// Runs one statement and returns its rows.
    ///
    /// SQL texts with parameters are prepared once per connection (up to
    /// ``statementCacheCapacity``) and executed by name afterwards, so repeated statements
    /// skip parsing and planning; statements without parameters run unnamed.
    @discardableResult
    public func query(_ query: PostgresQuery) throws -> PostgresRows {
        let handle = try requireHandle(query.sql)
        try checkEncoding(query, index: nil)
        if let name = try preparedName(for: query, handle: handle) {
            let result = query.bindings.withCArrays { values, _, lengths, formats in
                PQexecPrepared(handle, name, Int32(query.bindings.count), values, lengths, formats, 0)
            }
            do {
                return try rows(from: result, sql: query.sql, handle: handle)
            } catch let error as PostgresError {
                forgetStaleStatement(StatementKey(query), after: error)
                throw error
            }
        }
        let result = query.bindings.withCArrays { values, types, lengths, formats in
            PQexecParams(handle, query.sql, Int32(query.bindings.count), types, values, lengths, formats, 0)
        }
        return try rows(from: result, sql: query.sql, handle: handle)
    }

    /// Runs one statement and returns how many rows it affected.
    @discardableResult
    public func execute(_ query: PostgresQuery) throws -> Int {
        try self.query(query).affectedRows
    }

    /// Prepares `sql` under `name` for ``query(prepared:_:)``.
    public func prepare(name: String, sql: String) throws {
        let handle = try requireHandle(sql)
        let result = PQprepare(handle, name, sql, 0, nil)
        _ = try rows(from: result, sql: sql, handle: handle)
    }

    /// Executes the statement prepared as `name` with `bindings`.
    @discardableResult
    public func query(prepared name: String, _ bindings: PostgresBindings = PostgresBindings()) throws -> PostgresRows {
        let handle = try requireHandle(name)
        let query = PostgresQuery(sql: name, bindings: bindings)
        try checkEncoding(query, index: nil)
        let result = bindings.withCArrays { values, _, lengths, formats in
            PQexecPrepared(handle, name, Int32(bindings.count), values, lengths, formats, 0)
        }
        return try rows(from: result, sql: "EXECUTE \(name)", handle: handle)
    }

    /// Runs trusted SQL text that may hold several statements (a migration file), without parameters.
    ///
    /// Uses the simple query protocol; never pass text built from untrusted values.
    public func executeScript(_ sql: String) throws {
        let handle = try requireHandle(sql)
        let result = PQexec(handle, sql)
        _ = try rows(from: result, sql: sql, handle: handle)
    }

    /// Whether the open transaction failed and can only be rolled back.
    var transactionIsAborted: Bool {
        guard let handle else { return false }
        return PQtransactionStatus(handle) == PQTRANS_INERROR
    }

    /// Whether the session is inside a transaction block (open or failed).
    public var isInTransaction: Bool {
        guard let handle else { return false }
        let status = PQtransactionStatus(handle)
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR || status == PQTRANS_ACTIVE
    }

    /// Sends a notification: `SELECT pg_notify(channel, payload)`.
    public func notify(channel: String, payload: String = "") throws {
        try query("SELECT pg_notify(\(channel), \(payload))")
    }

    // MARK: - Internals shared with the pipeline and transaction extensions

    func requireHandle(_ sql: String) throws -> OpaquePointer {
        guard let handle else {
            throw PostgresError(code: .closed, message: "the connection is closed", statement: sql)
        }
        return handle
    }

    func markBroken() {
        brokenFlag.store(true, ordering: .relaxed)
    }

    func checkEncoding(_ query: PostgresQuery, index: Int?) throws {
        if let failure = query.bindings.encodingFailure {
            throw PostgresError(code: .unencodableValue, message: "cannot encode \(failure)", statement: query.sql, statementIndex: index)
        }
        if query.sql.containsNUL {
            throw PostgresError(code: .unencodableValue, message: "the SQL text contains a NUL character", statement: query.sql, statementIndex: index)
        }
    }

    /// The name of the prepared statement for `query`, preparing it now if the cache has room.
    private func preparedName(for query: PostgresQuery, handle: OpaquePointer) throws -> String? {
        let key = StatementKey(query)
        if let name = statementNames[key] { return name }
        // Statements without parameters are mostly one-off (DDL, BEGIN, scripts): don't fill the cache.
        guard query.bindings.count > 0, statementNames.count < statementCacheCapacity else { return nil }
        let name = makeStatementName()
        let result = query.bindings.withCArrays { _, types, _, _ in
            PQprepare(handle, name, query.sql, Int32(query.bindings.count), types)
        }
        _ = try rows(from: result, sql: query.sql, handle: handle)
        statementNames[key] = name
        return name
    }

    /// Drops a cached statement the server no longer has (`DEALLOCATE`, `DISCARD ALL`: 26000)
    /// or can no longer run (a table changed shape under it: 0A000), so the next call prepares afresh.
    func forgetStaleStatement(_ key: StatementKey, after error: PostgresError) {
        if error.sqlState == "26000" || error.sqlState == "0A000" {
            statementNames[key] = nil
        }
    }

    func makeStatementName() -> String {
        nextStatementNumber += 1
        return "skald_\(nextStatementNumber)"
    }

    /// Turns a libpq result into rows or a ``PostgresError``; consumes (clears) failed results.
    func rows(from result: OpaquePointer?, sql: String, handle: OpaquePointer, index: Int? = nil) throws -> PostgresRows {
        guard let result else {
            throw connectionError(handle: handle, sql: sql, index: index)
        }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY, PGRES_SINGLE_TUPLE:
            return PostgresRows(result: PostgresResult(handle: result, sql: sql))
        default:
            let error = Self.error(from: result, sql: sql, handle: handle, index: index)
            PQclear(result)
            if error.isConnectionLost || PQstatus(handle) != CONNECTION_OK { markBroken() }
            throw error
        }
    }

    func connectionError(handle: OpaquePointer, sql: String?, index: Int?) -> PostgresError {
        let lost = PQstatus(handle) != CONNECTION_OK
        if lost { markBroken() }
        return PostgresError(
            code: lost ? .connectionLost : .query,
            message: Self.errorMessage(of: handle),
            statement: sql,
            statementIndex: index
        )
    }

    static func error(from result: OpaquePointer, sql: String, handle: OpaquePointer, index: Int?) -> PostgresError {
        func field(_ code: UInt8) -> String? {
            PQresultErrorField(result, Int32(code)).map { String(cString: $0) }
        }
        let sqlState = field(UInt8(ascii: "C"))
        var message = field(UInt8(ascii: "M"))
            ?? PQresultErrorMessage(result).map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
            ?? errorMessage(of: handle)
        if PQresultStatus(result) == PGRES_COPY_IN || PQresultStatus(result) == PGRES_COPY_OUT {
            message = "COPY is not supported by this API"
        }
        let lost = PQstatus(handle) != CONNECTION_OK
        var error = PostgresError(
            code: lost && sqlState == nil ? .connectionLost : .query,
            message: message.trimmingTrailingNewlines(),
            sqlState: sqlState,
            detail: field(UInt8(ascii: "D")),
            hint: field(UInt8(ascii: "H")),
            statement: sql,
            statementIndex: index
        )
        if error.isConnectionLost { error.code = .connectionLost }
        return error
    }

    static func errorMessage(of handle: OpaquePointer) -> String {
        guard let text = PQerrorMessage(handle) else { return "unknown libpq error" }
        let message = String(cString: text).trimmingTrailingNewlines()
        return message.isEmpty ? "unknown libpq error" : message
    }

    /// `message` with the password of `target` (if any) replaced by `***`: libpq quotes the URL in some errors.
    static func redactingPassword(in message: String, of target: String) -> String {
        var text = message
        for secret in secrets(of: target) where !secret.isEmpty {
            text = text.replacingOccurrences(of: secret, with: "***")
        }
        return text
    }

    /// The target as `user@host:port/dbname`, safe to put in errors and logs: parsed by libpq
    /// itself, so no spelling of a password (URL user info, `password=`, quoted, spaced,
    /// `sslpassword=`) can slip through. A target libpq cannot parse is not echoed at all.
    public static func redacted(_ target: String) -> String {
        guard let options = PQconninfoParse(target, nil) else { return "<unparseable connection string>" }
        defer { PQconninfoFree(options) }
        var fields: [String: String] = [:]
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val {
                fields[String(cString: keyword)] = String(cString: value)
            }
            option = option.advanced(by: 1)
        }
        let user = fields["user"].map { "\($0)@" } ?? ""
        let host = fields["host"] ?? fields["hostaddr"] ?? "localhost"
        let port = fields["port"].map { ":\($0)" } ?? ""
        let database = fields["dbname"].map { "/\($0)" } ?? ""
        return "\(user)\(host)\(port)\(database)"
    }

    /// Every password-like value in the target, to scrub from libpq's own messages.
    private static func secrets(of target: String) -> [String] {
        guard let options = PQconninfoParse(target, nil) else { return guessedSecrets(of: target) }
        defer { PQconninfoFree(options) }
        var values: [String] = []
        var option = options
        while let keyword = option.pointee.keyword {
            let name = String(cString: keyword)
            if name.contains("password"), let value = option.pointee.val {
                values.append(String(cString: value))
            }
            option = option.advanced(by: 1)
        }
        return values
    }
}

extension PostgresConnection {
    /// Password-like parts of a target libpq cannot parse (whose error may quote it): the
    /// URL's user-info password and every `…password=` value, quoted or not.
    fileprivate static func guessedSecrets(of target: String) -> [String] {
        var secrets: [String] = []
        if let scheme = target.range(of: "://"), let at = target[scheme.upperBound...].lastIndex(of: "@") {
            let userInfo = target[scheme.upperBound..<at]
            if let colon = userInfo.firstIndex(of: ":") {
                secrets.append(String(userInfo[userInfo.index(after: colon)...]))
            }
        }
        var rest = target[...]
        while let key = rest.range(of: "password") {
            var index = key.upperBound
            while index < rest.endIndex, rest[index] == " " || rest[index] == "=" { index = rest.index(after: index) }
            let quoted = index < rest.endIndex && rest[index] == "'"
            if quoted { index = rest.index(after: index) }
            let end = rest[index...].firstIndex(where: { quoted ? $0 == "'" : ($0 == " " || $0 == "&") }) ?? rest.endIndex
            secrets.append(String(rest[index..<end]))
            rest = rest[end...]
        }
        return secrets
    }
}

/// Carries the fatal-notice flag's address to the connecting thread.
struct FlagBox: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Bool>
}

/// Carries a `PGconn` pointer from the connecting thread to the actor's initialiser.
struct HandleBox: @unchecked Sendable {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
}

/// Calls `body` with a NULL-terminated array of C strings.
func withCStrings<Result>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> Result) -> Result {
    let duplicated = strings.map { strdup($0) }
    defer { duplicated.forEach { free($0) } }
    var pointers = duplicated.map { UnsafePointer($0) }
    pointers.append(nil)
    return body(pointers)
}

extension String {
    /// Whether the text holds a NUL byte, which C strings (and Postgres text) cannot carry.
    var containsNUL: Bool {
        var text = self
        return text.withUTF8 { buffer in
            guard let base = buffer.baseAddress else { return false }
            return memchr(base, 0, buffer.count) != nil
        }
    }

    func trimmingTrailingNewlines() -> String {
        var text = Substring(self)
        while let last = text.last, last.isNewline || last == " " { text.removeLast() }
        return String(text)
    }
}

/// What a prepared statement is cached under: its SQL text and the parameter types it was
/// prepared with. The server fixes a statement's parameter types when it is prepared; a text
/// bound later with other types (a binary `int8[]` where it was prepared for `integer[]`, say)
/// gets a statement of its own instead of an error.
struct StatementKey: Hashable {
    var sql: String
    var parameterTypes: [UInt32]

    init(_ query: PostgresQuery) {
        sql = query.sql
        parameterTypes = query.bindings.parameterTypes
    }
}
