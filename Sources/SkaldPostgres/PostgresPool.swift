public import Logging

/// A small pool of ``PostgresConnection``s shared by many tasks.
///
/// Callers borrow a connection for the duration of a closure. When all connections are
/// busy and the pool is at ``maximumConnections``, callers wait in FIFO order (suspended,
/// never spinning). A connection that broke while borrowed (server restart,
/// `pg_terminate_backend`) is discarded on return, and idle connections are checked
/// before being handed out, so the next caller gets a working connection.
public actor PostgresPool {
    /// The URL or conninfo every connection uses.
    public nonisolated let target: String
    /// Connections opened eagerly by ``warmUp()`` and kept while idle.
    public nonisolated let minimumConnections: Int
    /// The most connections the pool opens at once.
    public nonisolated let maximumConnections: Int
    /// Run on every new connection before its first use (session settings).
    public nonisolated let sessionSetup: [PostgresQuery]
    private let logger: Logger

    private var idle: [PostgresConnection] = []
    /// Open connections, idle or borrowed, plus those being opened.
    private var openCount = 0
    private struct Waiter {
        var id: UInt64
        var continuation: CheckedContinuation<PostgresConnection?, any Error>
    }

    private var waiters: [Waiter] = []
    private var nextWaiterID: UInt64 = 0
    private var closed = false

    /// Creates a pool; connections open lazily (or with ``warmUp()``).
    ///
    /// - Parameter sessionSetup: statements each new connection runs before it is handed out,
    ///   such as `SET` commands; a connection whose setup fails is closed and the error thrown.
    public init(
        url: String,
        minimumConnections: Int = 1,
        maximumConnections: Int = 8,
        sessionSetup: [PostgresQuery] = [],
        logger: Logger = Logger(label: "skald.postgres.pool")
    ) {
        self.target = url
        self.maximumConnections = max(1, maximumConnections)
        self.minimumConnections = min(max(0, minimumConnections), self.maximumConnections)
        self.sessionSetup = sessionSetup
        self.logger = logger
    }

    /// A new connection with ``sessionSetup`` applied.
    private func open() async throws -> PostgresConnection {
        let connection = try await PostgresConnection.connect(to: target, logger: logger)
        do {
            for statement in sessionSetup { try await connection.query(statement) }
        } catch {
            await connection.close()
            throw error
        }
        return connection
    }

    /// Opens ``minimumConnections`` now, so that a bad URL fails at start-up rather than on first use.
    public func warmUp() async throws {
        while openCount < minimumConnections {
            openCount += 1
            do {
                let connection = try await open()
                hand(connection)
            } catch {
                openCount -= 1
                throw error
            }
        }
    }

    /// Borrows a connection for `body` and returns it afterwards (or discards it if it broke).
    ///
    /// A caller cancelled while waiting for a connection stops waiting with `CancellationError`.
    public nonisolated func withConnection<Result>(
        _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        let connection = try await acquire()
        do {
            let result = try await body(connection)
            await release(connection)
            return result
        } catch {
            await release(connection)
            throw error
        }
    }

    /// Closes idle connections and fails waiting callers; borrowed connections close when returned.
    public func close() async {
        closed = true
        let waiting = waiters
        waiters.removeAll()
        for waiter in waiting {
            waiter.continuation.resume(throwing: PostgresError(code: .closed, message: "the pool was closed"))
        }
        let connections = idle
        idle.removeAll()
        openCount -= connections.count
        for connection in connections {
            await connection.close()
        }
    }

    /// Counts for monitoring: open connections (idle + borrowed) and idle ones.
    public var statistics: (open: Int, idle: Int, waiting: Int) {
        (openCount, idle.count, waiters.count)
    }

    // MARK: - Lending

    private func acquire() async throws -> PostgresConnection {
        while true {
            guard !closed else {
                throw PostgresError(code: .closed, message: "the pool is closed")
            }
            if let connection = idle.popLast() {
                // A terminated backend leaves EOF on the idle socket: catch it before the caller does.
                if !connection.isBroken, await connection.checkAlive() {
                    return connection
                }
                logger.info("discarding a dead idle connection", metadata: ["pid": "\(connection.backendPID)"])
                openCount -= 1
                await connection.close()
                continue
            }
            if openCount < maximumConnections {
                openCount += 1
                do {
                    return try await open()
                } catch {
                    openCount -= 1
                    wakeOneWaiterToRetry()
                    throw error
                }
            }
            // All busy: wait for a release. nil means "a slot freed up, try again".
            try Task.checkCancellation()
            nextWaiterID += 1
            let id = nextWaiterID
            let handed = try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { waiters.append(Waiter(id: id, continuation: $0)) }
            } onCancel: {
                Task { await self.cancelWaiter(id) }
            }
            if let handed { return handed }
        }
    }

    private func release(_ connection: PostgresConnection) async {
        if closed || connection.isBroken {
            openCount -= 1
            await connection.close()
            wakeOneWaiterToRetry()
            return
        }
        if await connection.isInTransaction {
            // The borrower left a transaction open (e.g. cancelled mid-way): don't leak it to the next one.
            do {
                try await connection.query("ROLLBACK")
            } catch {
                openCount -= 1
                await connection.close()
                wakeOneWaiterToRetry()
                return
            }
        }
        hand(connection)
    }

    /// Gives a healthy connection to the oldest waiter, or parks it as idle.
    private func hand(_ connection: PostgresConnection) {
        if !waiters.isEmpty {
            waiters.removeFirst().continuation.resume(returning: connection)
        } else {
            idle.append(connection)
        }
    }

    /// A connection slot became free: let the oldest waiter open a new one.
    private func wakeOneWaiterToRetry() {
        if !waiters.isEmpty {
            waiters.removeFirst().continuation.resume(returning: nil)
        }
    }

    /// A waiting caller's task was cancelled: stop waiting (if it has not been served yet).
    private func cancelWaiter(_ id: UInt64) {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return }
        waiters.remove(at: index).continuation.resume(throwing: CancellationError())
    }
}
