import CLibPQ
import Foundation

extension PostgresConnection {
    /// Sends all `queries` in one round trip (libpq pipeline mode) and returns their rows in order.
    ///
    /// Outside an explicit transaction, the batch runs in one implicit transaction: if a
    /// statement fails, the server skips the rest and rolls the whole batch back. The error
    /// has code `.pipeline`, the failing statement's zero-based ``PostgresError/statementIndex``,
    /// its SQL and SQLSTATE. Inside ``withTransaction(isolation:_:)`` the batch joins that
    /// transaction, and a failure aborts it.
    public func pipeline(_ queries: [PostgresQuery]) throws -> [PostgresRows] {
        var results: [PostgresRows] = []
        results.reserveCapacity(queries.count)
        _ = try runPipeline(queries, begin: nil) { results.append($0) }
        return results
    }

    /// Sends `BEGIN`, all `queries` and `COMMIT` in one round trip: all of them commit, or none.
    ///
    /// On failure the transaction is rolled back and the error names the failing statement
    /// (index into `queries`), its SQL and SQLSTATE.
    public func pipelineTransaction(
        _ queries: [PostgresQuery],
        isolation: PostgresIsolationLevel = .readCommitted
    ) throws -> [PostgresRows] {
        try refuseInsideTransaction()
        var results: [PostgresRows] = []
        results.reserveCapacity(queries.count)
        _ = try runPipeline(queries, begin: isolation.beginStatement) { results.append($0) }
        return results
    }

    /// Like ``pipelineTransaction(_:isolation:)`` but returns only the total of affected rows,
    /// freeing each result at once: the cheapest way to apply a batch of writes.
    @discardableResult
    public func pipelineTransactionDiscardingRows(
        _ queries: [PostgresQuery],
        isolation: PostgresIsolationLevel = .readCommitted
    ) throws -> Int {
        try refuseInsideTransaction()
        return try runPipeline(queries, begin: isolation.beginStatement, discardingRows: true) { _ in }
    }

    /// What was sent for one pipeline slot, to match results back to the caller's statements.
    private enum Sent {
        case control
        case prepare(key: StatementKey, name: String)
        case statement(index: Int)
    }

    private func runPipeline(
        _ queries: [PostgresQuery],
        begin: String?,
        discardingRows: Bool = false,
        collect: (PostgresRows) -> Void
    ) throws -> Int {
        let handle = try requireHandle(queries.first?.sql ?? "")
        for (index, query) in queries.enumerated() {
            try checkEncoding(query, index: index)
        }
        guard PQenterPipelineMode(handle) == 1 else {
            throw pipelineError(handle: handle, message: "cannot enter pipeline mode", index: nil, sql: nil)
        }

        var sent: [Sent] = []
        sent.reserveCapacity(queries.count + 2)
        var pendingNames: [StatementKey: String] = [:]
        var sendFailed = false

        if let begin {
            if PQsendQueryParams(handle, begin, 0, nil, nil, nil, nil, 0) == 1 {
                sent.append(.control)
            } else {
                sendFailed = true
            }
        }
        if !sendFailed {
            for (index, query) in queries.enumerated() {
                let key = StatementKey(query)
                var name = statementNames[key] ?? pendingNames[key]
                if name == nil, query.bindings.count > 0, statementNames.count + pendingNames.count < statementCacheCapacity {
                    let newName = makeStatementName()
                    let prepared = query.bindings.withCArrays { _, types, _, _ in
                        PQsendPrepare(handle, newName, query.sql, Int32(query.bindings.count), types)
                    }
                    guard prepared == 1 else { sendFailed = true; break }
                    sent.append(.prepare(key: key, name: newName))
                    pendingNames[key] = newName
                    name = newName
                }
                let ok = query.bindings.withCArrays { values, types, lengths, formats in
                    if let name {
                        return PQsendQueryPrepared(handle, name, Int32(query.bindings.count), values, lengths, formats, 0)
                    }
                    return PQsendQueryParams(
                        handle, query.sql, Int32(query.bindings.count), types, values, lengths, formats, 0)
                }
                guard ok == 1 else { sendFailed = true; break }
                sent.append(.statement(index: index))
            }
        }
        if !sendFailed, begin != nil {
            if PQsendQueryParams(handle, "COMMIT", 0, nil, nil, nil, nil, 0) == 1 {
                sent.append(.control)
            } else {
                sendFailed = true
            }
        }
        if sendFailed || PQpipelineSync(handle) != 1 {
            let error = pipelineError(handle: handle, message: Self.errorMessage(of: handle), index: nil, sql: nil)
            abandonPipeline(handle, syncSent: false)
            endAbandonedTransaction(began: begin != nil)
            throw error
        }

        var firstError: PostgresError?
        var affectedRows = 0
        for slot in sent {
            guard let result = PQgetResult(handle) else {
                // The connection died mid-pipeline.
                var error = firstError ?? pipelineError(handle: handle, message: Self.errorMessage(of: handle), index: nil, sql: nil)
                abandonPipeline(handle, syncSent: true)
                endAbandonedTransaction(began: begin != nil)
                if isBroken { error.code = .connectionLost }
                throw error
            }
            let status = PQresultStatus(result)
            let failed = status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && status != PGRES_EMPTY_QUERY
            if failed {
                if firstError == nil, status != PGRES_PIPELINE_ABORTED {
                    var error: PostgresError
                    switch slot {
                    case .statement(let index):
                        error = Self.error(from: result, sql: queries[index].sql, handle: handle, index: index)
                        forgetStaleStatement(StatementKey(queries[index]), after: error)
                    case .prepare(let key, _):
                        let index = queries.firstIndex { $0.sql == key.sql }
                        error = Self.error(from: result, sql: key.sql, handle: handle, index: index)
                    case .control:
                        error = Self.error(from: result, sql: begin ?? "", handle: handle, index: nil)
                    }
                    if !error.isConnectionLost { error.code = .pipeline }
                    firstError = error
                }
                PQclear(result)
            } else {
                switch slot {
                case .statement:
                    if discardingRows {
                        if let tuples = PQcmdTuples(result) {
                            let bytes = UnsafeRawBufferPointer(start: tuples, count: strlen(tuples))
                            affectedRows += parseInteger(bytes, as: Int.self) ?? 0
                        }
                        PQclear(result)
                    } else {
                        let index = sentIndex(slot)
                        collect(PostgresRows(result: PostgresResult(handle: result, sql: queries[index].sql)))
                    }
                case .prepare(let key, let name):
                    statementNames[key] = name
                    PQclear(result)
                case .control:
                    PQclear(result)
                }
            }
            // Each query's results end with a NULL.
            while let extra = PQgetResult(handle) { PQclear(extra) }
        }
        // The sync point.
        if let sync = PQgetResult(handle) {
            PQclear(sync)
        }
        guard PQexitPipelineMode(handle) == 1 else {
            // Results we did not expect are still pending: the session's state is unknown.
            let error = firstError ?? pipelineError(handle: handle, message: Self.errorMessage(of: handle), index: nil, sql: nil)
            close()
            throw PostgresError(
                code: .connectionLost,
                message: "the pipeline ended in an unexpected state, so the connection was closed: \(error.message)",
                sqlState: error.sqlState,
                statement: error.statement,
                statementIndex: error.statementIndex
            )
        }

        if let firstError {
            if firstError.isConnectionLost || PQstatus(handle) != CONNECTION_OK {
                markBroken()
                var lost = firstError
                lost.code = .connectionLost
                throw lost
            }
            // BEGIN … COMMIT failed part-way: the explicit transaction is left aborted; end it.
            if begin != nil, PQtransactionStatus(handle) == PQTRANS_INERROR, let rollback = PQexec(handle, "ROLLBACK") {
                PQclear(rollback)
            }
            throw firstError
        }
        return affectedRows
    }

    /// A BEGIN … COMMIT batch that the pipeline abandoned part-way may have left its
    /// transaction open with some statements applied: roll it back, and give the
    /// connection up if even that fails, so nothing half-done can be committed later.
    ///
    /// Reads the handle afresh: `abandonPipeline` may have closed the connection, and the
    /// caller's copy of the pointer is then freed memory.
    private func endAbandonedTransaction(began: Bool) {
        guard began, let handle = try? requireHandle("ROLLBACK"), PQstatus(handle) == CONNECTION_OK,
            PQtransactionStatus(handle) != PQTRANS_IDLE
        else { return }
        let rollback = PQexec(handle, "ROLLBACK")
        let rolledBack = rollback.map { PQresultStatus($0) == PGRES_COMMAND_OK } ?? false
        if let rollback { PQclear(rollback) }
        if !rolledBack { close() }
    }

    /// The explicit-transaction batches send their own BEGIN and COMMIT: inside a caller's
    /// transaction that COMMIT would end the caller's transaction early.
    private func refuseInsideTransaction() throws {
        if isInTransaction {
            throw PostgresError(
                code: .invalidArgument,
                message: "pipelineTransaction sends its own BEGIN and COMMIT; inside an open transaction use pipeline(_:)"
            )
        }
    }

    private func sentIndex(_ slot: Sent) -> Int {
        if case .statement(let index) = slot { return index }
        return 0
    }

    private func pipelineError(handle: OpaquePointer, message: String, index: Int?, sql: String?) -> PostgresError {
        let lost = PQstatus(handle) != CONNECTION_OK
        if lost { markBroken() }
        return PostgresError(code: lost ? .connectionLost : .pipeline, message: message, statement: sql, statementIndex: index)
    }

    /// Leaves pipeline mode after a failure, draining what the server still owes us.
    ///
    /// A broken connection is just marked broken. A healthy one gets a sync (unless one
    /// was sent) and is read up to it, so the next caller finds a clean session; if that
    /// fails too, the connection is closed rather than left in an unknown protocol state.
    private func abandonPipeline(_ handle: OpaquePointer, syncSent: Bool) {
        guard PQstatus(handle) == CONNECTION_OK else {
            markBroken()
            return
        }
        if !syncSent, PQpipelineSync(handle) != 1 {
            close()
            return
        }
        var consecutiveNulls = 0
        while PQstatus(handle) == CONNECTION_OK, consecutiveNulls < 64 {
            guard let result = PQgetResult(handle) else {
                consecutiveNulls += 1
                continue
            }
            consecutiveNulls = 0
            let isSync = PQresultStatus(result) == PGRES_PIPELINE_SYNC
            PQclear(result)
            if isSync { break }
        }
        if PQexitPipelineMode(handle) != 1 || PQstatus(handle) != CONNECTION_OK {
            close()
        }
    }
}
