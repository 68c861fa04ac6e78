/// The isolation level of a transaction.
public enum PostgresIsolationLevel: Sendable, Hashable {
    /// Each statement sees data committed before it began (the Postgres default).
    case readCommitted
    /// All statements see one snapshot; concurrent updates of the same rows fail with 40001.
    case repeatableRead
    /// Transactions behave as if run one at a time; conflicts fail with 40001.
    case serializable

    /// The statement that opens a transaction at this level.
    var beginStatement: String {
        switch self {
        case .readCommitted: return "BEGIN ISOLATION LEVEL READ COMMITTED"
        case .repeatableRead: return "BEGIN ISOLATION LEVEL REPEATABLE READ"
        case .serializable: return "BEGIN ISOLATION LEVEL SERIALIZABLE"
        }
    }
}

extension PostgresConnection {
    /// Runs `body` inside `BEGIN … COMMIT`; any error thrown by `body` (or by COMMIT) rolls back.
    ///
    /// The closure receives this connection; run all the transaction's statements on it.
    /// Nesting is not supported: calling this while a transaction is open throws `.invalidArgument`.
    public nonisolated func withTransaction<Result>(
        isolation: PostgresIsolationLevel = .readCommitted,
        _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        if await isInTransaction {
            throw PostgresError(
                code: .invalidArgument,
                message: "a transaction is already open on this connection; nested transactions are not supported"
            )
        }
        try await query(PostgresQuery(stringLiteral: isolation.beginStatement))
        let result: Result
        do {
            result = try await body(self)
        } catch {
            await rollbackQuietly()
            throw error
        }
        do {
            // A body that caught a statement's error and carried on leaves the transaction
            // aborted; Postgres would answer COMMIT with ROLLBACK and no error, and the caller
            // would believe writes that never happened.
            if await transactionIsAborted {
                throw PostgresError(
                    code: .query,
                    message: "the transaction was aborted by an earlier failed statement; it was rolled back, not committed"
                )
            }
            let commit = try await query("COMMIT")
            if commit.commandTag != "COMMIT" {
                throw PostgresError(
                    code: .query, message: "COMMIT ended the transaction with \(commit.commandTag): nothing was committed")
            }
        } catch {
            await rollbackQuietly()
            throw error
        }
        return result
    }

    /// Like ``withTransaction(isolation:_:)``, but re-runs the whole transaction when it fails
    /// with a serialization failure (40001) or a deadlock (40P01).
    ///
    /// - Parameters:
    ///   - maxAttempts: how many times the transaction may run in total; the last error is rethrown.
    ///   - initialBackoff: the wait before the second attempt; it doubles each time, with jitter,
    ///     so conflicting transactions stop colliding.
    public nonisolated func withRetryingTransaction<Result>(
        isolation: PostgresIsolationLevel = .serializable,
        maxAttempts: Int = 10,
        initialBackoff: Duration = .milliseconds(2),
        _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        var attempt = 1
        var backoff = initialBackoff
        while true {
            do {
                return try await withTransaction(isolation: isolation, body)
            } catch let error as PostgresError where (error.isSerializationFailure || error.isDeadlock) && attempt < maxAttempts {
                logger.debug("retrying transaction", metadata: ["attempt": "\(attempt)", "sqlstate": "\(error.sqlState ?? "")"])
                attempt += 1
                let jitter = Double.random(in: 0.5...1.5)
                try await Task.sleep(for: backoff * jitter)
                backoff *= 2
            }
        }
    }

    /// Rolls back after a failure; if even that fails the connection is beyond use and is closed.
    private func rollbackQuietly() {
        guard isInTransaction else { return }
        do {
            try query("ROLLBACK")
        } catch {
            close()
        }
    }
}
