import Foundation
import Skald
import SkaldPostgres

extension SagaProcessor {
    /// Why a batch took the row locks rather than the one-round-trip path
    /// (``applyOptimistically(_:on:now:documents:)``); counted as
    /// `skald_pump_locked_batches_total{reason}`, once per attempt: a batch retried after a
    /// deadlock or a dropped connection counts again, and operators' commands count too.
    enum LockedPathReason: String, Sendable {
        /// An input names a saga by id that this process has not cached (the cache is smaller
        /// than the sagas in flight, or another instance ran the saga before).
        case uncachedSaga = "uncached_saga"
        /// An input finds its saga by a business key, which only the store can resolve.
        case correlatedInput = "correlated_input"
        /// A saga's wake-up is due or within ``SagaProcessor/wakeMargin``.
        case wakeUpNear = "wake_up_near"
        /// A cached saga's definition version, or a started saga's type, is not registered in
        /// this process.
        case unregisteredDefinition = "unregistered_definition"
        /// A decision appended no event, so a stale instance would go unnoticed.
        case noEvents = "no_events"
        /// A saga refused an input.
        case refusedInput = "refused_input"
        /// The attempt was sent and conflicted (a saga moved on elsewhere, a message seen
        /// before, a wake-up moved under the cache), then rolled back.
        case conflict
    }

    /// Why an optimistic attempt's transition spans ended without their transaction.
    private struct RedoneUnderLocks: Error, CustomStringConvertible {
        var description: String { "redone under the row locks" }
    }

    /// Applies `work` in one round trip when every input names a saga this process has
    /// cached or starts one: it decides first, then sends `BEGIN`, the inbox, every write and `COMMIT`
    /// together, without locking or reading anything.
    ///
    /// This is safe without the row locks because every decision it commits appends
    /// events, numbered on from the cached instance. If the saga moved on elsewhere (another
    /// orchestrator, a timer in another transaction, a commit this cache missed), its log
    /// already holds one of those sequences, the `saga_events` primary key refuses the
    /// append, and the whole transaction rolls back. A message the inbox has seen fails the
    /// inbox insert the same way, as does a timer id or a business key the tables hold already
    /// (which the locked path keeps as they are), and a concurrent locked transaction ends in a deadlock that
    /// Postgres breaks. In every case the batch is redone under the row locks
    /// (``process(_:on:now:)``), with nothing of the attempt left behind.
    ///
    /// A start of a saga the cache does not hold goes this way too, as a new instance: a saga
    /// that exists after all has the first sequence in its log already.
    ///
    /// - Returns: nil, before sending anything, for a batch this path cannot take (a business
    ///   key, an uncached saga named by id, an input the saga refuses, an unregistered saga
    ///   type, a decision with no events), and after rolling back for one that conflicted.
    func applyOptimistically(
        _ work: [SagaWork], on connection: PostgresConnection, now: Date, documents: SagaDocumentColumns
    ) async throws -> Applied? {
        guard !work.isEmpty else { return nil }
        var sagaIds: [String?] = []
        sagaIds.reserveCapacity(work.count)
        var sagas: [String: BatchSaga] = [:]
        sagas.reserveCapacity(work.count)
        for index in work.indices {  // by index: only the target is read, not a copy of each item
            let id: String
            switch work[index].target {
            case .saga(let sagaId):
                id = sagaId
                if sagas[sagaId] == nil {
                    guard let entry = cache.entry(id) else { return lockedPath(.uncachedSaga) }
                    sagas[id] = BatchSaga(cached: entry)
                }
            case .start(_, let sagaId, _):
                // A saga this process has not cached is taken to be new. If it exists after
                // all (a start delivered again, or the same key started elsewhere), its log
                // holds the first sequence the new instance appends, and the batch is redone
                // under the locks, where the start is found to be a duplicate.
                id = sagaId
                if sagas[sagaId] == nil {
                    sagas[id] = cache.entry(id).map(BatchSaga.init(cached:)) ?? BatchSaga()
                }
            case .correlated:
                return lockedPath(.correlatedInput)
            }
            sagaIds.append(id)
        }

        let profile = PhaseProfile.shared
        var phase = profile.start()
        var outcomes = [SagaWorkOutcome?](repeating: nil, count: work.count)
        let inboxRecords = Self.inboxRecords(of: work, outcomes: &outcomes)

        var writes = BatchWrites(sagaEventsTopic: sagaEventsTopic, documents: documents, expectedDecisions: work.count)
        var spans = TransitionSpans()
        if let reason = decideInputs(
            work, sagaIds: sagaIds, outcomes: &outcomes, sagas: &sagas, now: now, optimistic: true, writes: &writes,
            spans: &spans)
        {
            spans.end(failing: RedoneUnderLocks())
            return lockedPath(reason)
        }
        profile.record("decide", since: phase, size: writes.decisions)
        phase = profile.start()

        var statements: [PostgresQuery] = ["BEGIN ISOLATION LEVEL READ COMMITTED"]
        if inboxRecords.count > 0 {
            statements.append(PostgresQuery(PumpStatements.recordNewInbox, inboxRecords.values))
        }
        let (writeStatements, outboxIndex) = writes.statementsFindingOutbox(keysMustBeNew: true)
        let outboxResultIndex = outboxIndex.map { statements.count + $0 }
        statements.append(contentsOf: writeStatements)
        statements.append("COMMIT")
        let results: [PostgresRows]
        do {
            results = try await connection.pipeline(statements)
        } catch let error as PostgresError where error.sqlState == "23505" || error.isDeadlock || error.isSerializationFailure {
            spans.end(failing: error)
            await Self.rollback(connection)
            metrics.optimisticConflicts.increment()
            logger.debug("optimistic batch conflicted; redoing it under the row locks", metadata: ["error": "\(error)"])
            return lockedPath(.conflict)
        } catch {
            spans.end(failing: error)
            throw error
        }
        spans.end()
        profile.record("pg.optimistic", since: phase, size: statements.count)
        metrics.optimisticBatches.increment()
        return try committed(writes, outcomes: outcomes, sagas: sagas, outboxResult: outboxResultIndex.map { results[$0] })
    }

    /// Counts a batch going to the row locks, and says so to the caller (nil).
    private func lockedPath(_ reason: LockedPathReason) -> Applied? {
        metrics.lockedBatch(reason: reason.rawValue)
        return nil
    }
}
