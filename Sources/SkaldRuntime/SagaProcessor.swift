public import Foundation
public import Logging
public import Skald
public import SkaldPostgres
import Synchronization

/// Applies inputs to sagas in one Postgres transaction: the effectively-once step.
///
/// For a batch of ``SagaWork`` it finds the sagas (by id or business key), locks
/// their rows in a fixed order, records each message id in the inbox (a message
/// seen before is skipped), folds the instances it has not cached, runs the pure
/// `decide` for each input in order, and writes the new events, the snapshots, the
/// outbox rows, the timers and the correlations — every write a single
/// parameterised statement over binary column arrays, pipelined with the commit.
public final class SagaProcessor: Sendable {
    let registry: SagaRegistry
    let cache: InstanceCache
    /// Where every appended event is mirrored, through the outbox; nil: nowhere.
    let sagaEventsTopic: String?
    let metrics: OrchestratorMetrics
    let logger: Logger
    /// This process's relay, to hand committed commands to; nil: every command goes through
    /// the outbox alone, announced by `NOTIFY`.
    let handoff: OutboxHandoff?
    /// The type of the store's document columns, read before the first batch
    /// (``SagaDocumentColumns``). It is kept for the process's life: a store migrated to `text`
    /// under a process that read `json` still takes the `json` it writes.
    private let documentColumns = Mutex<SagaDocumentColumns?>(nil)

    /// Creates a processor for the sagas in `registry`.
    ///
    /// - Parameter sagaEventsTopic: where every appended event is also published (through
    ///   the outbox, in the same transaction), for projections; nil publishes none.
    public convenience init(
        registry: SagaRegistry,
        cacheCapacity: Int = 10_000,
        sagaEventsTopic: String? = nil,
        metrics: OrchestratorMetrics = OrchestratorMetrics(),
        logger: Logger = Logger(label: "skald.processor")
    ) {
        self.init(
            registry: registry, cacheCapacity: cacheCapacity, sagaEventsTopic: sagaEventsTopic, metrics: metrics,
            logger: logger, handoff: nil)
    }

    /// Creates a processor that hands the commands it commits to `handoff`, its process's
    /// relay (``OutboxHandoff``), when their order allows.
    package init(
        registry: SagaRegistry,
        cacheCapacity: Int = 10_000,
        sagaEventsTopic: String? = nil,
        metrics: OrchestratorMetrics = OrchestratorMetrics(),
        logger: Logger = Logger(label: "skald.processor"),
        handoff: OutboxHandoff?
    ) {
        self.handoff = handoff
        self.registry = registry
        self.sagaEventsTopic = sagaEventsTopic
        self.cache = InstanceCache(capacity: cacheCapacity)
        self.metrics = metrics
        self.logger = logger
    }

    /// Applies `work` in one transaction on `connection`, retrying the whole batch on a
    /// deadlock, a serialization failure or a concurrent first write of the same saga.
    ///
    /// When every input names a saga this process has cached or starts one, the transaction is
    /// one round trip (see ``applyOptimistically(_:on:now:documents:)``); otherwise, or when that attempt
    /// conflicts, it takes two: `BEGIN`, the row locks, the inbox and the event logs of
    /// uncached instances in one pipeline; every write and `COMMIT` in another.
    ///
    /// - Returns: one outcome per item, in order, and whether any command went to the outbox.
    public func process(
        _ work: [SagaWork], on connection: PostgresConnection, now: Date
    ) async throws -> SagaBatchResult {
        try await retrying(on: connection) { documents in
            if let applied = try await self.applyOptimistically(work, on: connection, now: now, documents: documents) {
                return (work, applied)
            }
            return (work, try await self.apply(work, on: connection, now: now, begin: true, documents: documents))
        }
    }

    /// Like ``process(_:on:now:)``, with the work gathered inside the transaction by
    /// `collect` (the timer service deletes due timers there, so firing and applying
    /// them commit together or not at all).
    public func process(
        on connection: PostgresConnection,
        now: Date,
        collect: (PostgresConnection) async throws -> [SagaWork]
    ) async throws -> SagaBatchResult {
        try await retrying(on: connection) { documents in
            try await connection.query("BEGIN ISOLATION LEVEL READ COMMITTED")
            let work = try await collect(connection)
            return (work, try await self.apply(work, on: connection, now: now, begin: false, documents: documents))
        }
    }

    /// The type of the store's document columns: read on `connection` the first time, outside
    /// any transaction, then remembered (until a write finds the columns of another type).
    func documentColumns(on connection: PostgresConnection) async throws -> SagaDocumentColumns {
        if let known = documentColumns.withLock({ $0 }) { return known }
        let read = try await SagaDocumentColumns.read(on: connection)
        documentColumns.withLock { $0 = read }
        logger.debug("saga documents stored as \(read)")
        return read
    }

    /// Runs one transaction attempt after another until one commits or fails for good;
    /// a failed attempt is rolled back before the error goes on. Each attempt is given the
    /// type of the store's document columns.
    private func retrying(
        on connection: PostgresConnection,
        _ attempt: (SagaDocumentColumns) async throws -> ([SagaWork], Applied)
    ) async throws -> SagaBatchResult {
        var attempts = 0
        var typeReadAgain = false
        while true {
            attempts += 1
            do {
                let documents = try await documentColumns(on: connection)
                let transaction = PhaseProfile.shared.start()
                let (work, applied) = try await attempt(documents)
                PhaseProfile.shared.record("pg.transaction", since: transaction, size: work.count)
                let accepted = applied.handoff.deliver(to: handoff)
                cache.store(Self.forgettingRefusedHandoffs(applied.instances, handoff: applied.handoff, accepted: accepted))
                return SagaBatchResult(work: work, outcomes: applied.outcomes, wroteCommands: applied.wroteCommands)
            } catch {
                await Self.rollback(connection)
                if let error = error as? PostgresError, error.sqlState == "42804", !typeReadAgain {
                    // A document column is not of the type this process read: the store was
                    // migrated back under it (0010 rolled back by hand). Read the type again
                    // and redo the batch, rather than dead-letter every message from now on.
                    typeReadAgain = true
                    let stale = documentColumns.withLock { known in
                        let was = known
                        known = nil
                        return was
                    }
                    logger.warning(
                        "a saga document column changed type under this process; reading it again",
                        metadata: ["was": "\(stale.map { "\($0)" } ?? "unknown")", "error": "\(error)"])
                    continue
                }
                guard let error = error as? PostgresError,
                    attempts < 5 && (error.isDeadlock || error.isSerializationFailure || error.sqlState == "23505")
                else { throw error }
                logger.debug("saga batch conflicted; retrying", metadata: ["attempt": "\(attempts)", "error": "\(error)"])
                try await Task.sleep(for: .milliseconds(5 * attempts))
            }
        }
    }

    /// Ends a failed transaction; a connection that cannot even roll back is closed.
    static func rollback(_ connection: PostgresConnection) async {
        guard await connection.isInTransaction else { return }
        do {
            try await connection.query("ROLLBACK")
        } catch {
            await connection.close()
        }
    }

    /// What a committed transaction did: an outcome per input, the instances to cache, and
    /// the commands to hand the relay.
    struct Applied {
        var outcomes: [SagaWorkOutcome]
        var instances: [(entry: InstanceCache.Entry, isFinal: Bool)]
        var wroteCommands: Bool
        var handoff: PendingHandoff = .none
    }

    /// `instances`, with no hand-over epoch for sagas of lanes the relay refused rows of:
    /// those rows are in the outbox alone, so the sagas' next commands must go that way too.
    static func forgettingRefusedHandoffs(
        _ instances: [(entry: InstanceCache.Entry, isFinal: Bool)], handoff: PendingHandoff, accepted: Set<Int>
    ) -> [(entry: InstanceCache.Entry, isFinal: Bool)] {
        guard handoff.claims.count > accepted.count else { return instances }
        return instances.map { item in
            var item = item
            let lane = OutboxRelay.lane(ofSaga: item.entry.instance.sagaId)
            if item.entry.handoffEpoch != nil, handoff.claims[lane] != nil, !accepted.contains(lane) {
                item.entry.handoffEpoch = nil
            }
            return item
        }
    }

    /// A locked `sagas` row.
    private struct LockedRow {
        var sagaType: String
        var version: Int
        var status: String
        var lastSequence: Int
        var traceparent: String?
        var timers: String?
        var wakeAt: Date?
    }

    private func apply(
        _ work: [SagaWork], on connection: PostgresConnection, now: Date, begin: Bool, documents: SagaDocumentColumns
    ) async throws -> Applied {
        if work.isEmpty {
            if !begin { try await connection.query("COMMIT") }
            return Applied(outcomes: [], instances: [], wroteCommands: false)
        }
        let profile = PhaseProfile.shared
        var phase = profile.start()
        var outcomes = [SagaWorkOutcome?](repeating: nil, count: work.count)

        // 1. What the batch names: saga ids, business keys, message ids.
        var knownIds: Set<String> = []
        knownIds.reserveCapacity(work.count)
        var keysToResolve = JSONRecords()
        var seenKeys: Set<String> = []
        // By index, here and below: `for item in work` copied each item, every string of its
        // envelope retained and released again, where a field or two is all a loop reads.
        for index in work.indices {
            switch work[index].target {
            case .saga(let id), .start(_, let id, _):
                knownIds.insert(id)
            case .correlated(let type, let key):
                if seenKeys.insert(type + "\u{0}" + key).inserted {
                    keysToResolve.beginRecord()
                    keysToResolve.field("t", type)
                    keysToResolve.field("k", key)
                    keysToResolve.endRecord()
                }
            }
        }
        // Every message id goes into the inbox now; those of messages that turn out to be
        // unroutable are deleted again before the commit, so a redelivery after a crash is
        // still new and reaches the dead letters.
        let inboxRecords = Self.inboxRecords(of: work, outcomes: &outcomes)
        // The instances cached now: the log of a saga is read only when its locked
        // sequence differs from the cached one.
        var cachedNow: [String: InstanceCache.Entry] = [:]
        cachedNow.reserveCapacity(knownIds.count)
        var cachedSequences = JSONRecords.ObjectWriter()
        for id in knownIds {
            if let cached = cache.entry(id) {
                cachedNow[id] = cached
                cachedSequences.field(id, cached.instance.lastSequence)
            }
        }
        let idsText = JSONRecords.array(knownIds)
        let keysText = keysToResolve.text
        // The sagas a batch names, by id ($1) or also by business key ($2): the same subquery
        // locks them and reads their logs, so both see exactly the rows this transaction locked.
        let involvedSagas = keysToResolve.count > 0 ? PumpStatements.sagasByIdOrKey : PumpStatements.sagasById
        let involvedBindings = [PostgresValue(idsText)] + (keysToResolve.count > 0 ? [PostgresValue(keysText)] : [])

        // 2. One round trip: BEGIN, lock (ids in order, so batches never wait in a cycle),
        // resolve business keys, record the inbox, read the logs of uncached instances.
        var statements: [PostgresQuery] = []
        if begin { statements.append("BEGIN ISOLATION LEVEL READ COMMITTED") }
        statements.append(PostgresQuery(PumpStatements.lockSagas(involvedSagas), involvedBindings))
        let lockIndex = statements.count - 1
        var correlateIndex: Int?
        if keysToResolve.count > 0 {
            statements.append(PostgresQuery(PumpStatements.resolveKeys, [PostgresValue(keysText)]))
            correlateIndex = statements.count - 1
        }
        var inboxIndex: Int?
        if inboxRecords.count > 0 {
            statements.append(PostgresQuery(PumpStatements.recordInbox, inboxRecords.values))
            inboxIndex = statements.count - 1
        }
        statements.append(
            PostgresQuery(
                PumpStatements.loadLogs(involvedSagas, cachedParameter: "$\(involvedBindings.count + 1)"),
                involvedBindings + [cachedSequences.value]))
        let loadIndex = statements.count - 1
        let results = try await connection.pipeline(statements)
        profile.record("pg.read", since: phase, size: work.count)
        phase = profile.start()

        var locked: [String: LockedRow] = [:]
        locked.reserveCapacity(results[lockIndex].count)
        for row in results[lockIndex] {
            locked[try row.decode(String.self, at: 0)] = LockedRow(
                sagaType: try row.decode(String.self, at: 1),
                version: try row.decode(Int.self, at: 2),
                status: try row.decode(String.self, at: 3),
                lastSequence: try row.decode(Int.self, at: 4),
                traceparent: try row.decode(String?.self, at: 5),
                timers: try row.decode(String?.self, at: 6),
                wakeAt: try row.decode(Date?.self, at: 7)
            )
        }
        var correlated: [String: String] = [:]  // "type\u{0}key" → saga id
        if let correlateIndex {
            for row in results[correlateIndex] {
                correlated[try row.decode(String.self, at: 0) + "\u{0}" + row.decode(String.self, at: 1)] =
                    try row.decode(String.self, at: 2)
            }
        }
        var fresh: Set<String> = []
        if let inboxIndex {
            for row in results[inboxIndex] { fresh.insert(try row.decode(String.self, at: 0)) }
        }
        var logs: [String: [StoredSagaEvent]] = [:]
        for row in results[loadIndex] {
            logs[try row.decode(String.self, at: 0), default: []].append(
                StoredSagaEvent(
                    sequence: try row.decode(Int.self, at: 1),
                    type: try row.decode(String.self, at: 2),
                    time: try row.decode(Date.self, at: 3),
                    data: Array(try row.decode(String.self, at: 4).utf8)
                )
            )
        }

        // 3. Route: saga ids for business keys; inputs for sagas that do not exist.
        var sagaIds = [String?](repeating: nil, count: work.count)
        for index in work.indices where outcomes[index] == nil {
            switch work[index].target {
            case .saga(let id): sagaIds[index] = id
            case .start(_, let id, _): sagaIds[index] = id
            case .correlated(let type, let key):
                sagaIds[index] = correlated[type + "\u{0}" + key]
                if sagaIds[index] == nil {
                    outcomes[index] = .unroutable(reason: "no \(type) saga has the business key '\(key)'")
                }
            }
        }
        for index in work.indices where outcomes[index] == nil {
            guard let id = sagaIds[index] else { continue }
            if case .start = work[index].target { continue }
            if locked[id] == nil {
                outcomes[index] = .unroutable(reason: "no saga has the id '\(id)'")
            }
        }
        // A message the inbox had seen is a duplicate, whatever else is true of it now.
        var duplicates = 0
        for index in work.indices {
            guard let inboxId = work[index].inboxId, !fresh.contains(inboxId) else { continue }
            if case .duplicate = outcomes[index] {
                duplicates += 1
                continue
            }
            outcomes[index] = .duplicate(sagaId: sagaIds[index])
            duplicates += 1
        }
        if duplicates > 0 { metrics.inboxDuplicates.increment(by: duplicates) }
        let involved = Set(sagaIds.compactMap { $0 }).sorted()

        // 4. Instances: from the cache when it is at the locked sequence, else folded from the log;
        // each with its row's trace, and the epoch of a saga whose every command so far went to
        // this process's relay by hand (``OutboxHandoff``).
        var sagas: [String: BatchSaga] = [:]
        sagas.reserveCapacity(locked.count)
        for (id, row) in locked {
            sagas[id] = BatchSaga(traceparent: row.traceparent, timers: armedTimers(of: id, in: row), wakeAt: row.wakeAt)
        }
        var toLoad: [String] = []
        for id in involved {
            guard let row = locked[id] else { continue }
            if SagaStatus(rawValue: row.status)?.isFinal == true { sagas[id]?.isFinished = true }
            if let entry = cachedNow[id], case let cached = entry.instance, cached.lastSequence == row.lastSequence,
                cached.sagaType == row.sagaType, cached.version == row.version
            {
                sagas[id]?.instance = cached
                sagas[id]?.handoffEpoch = entry.handoffEpoch
            } else {
                toLoad.append(id)
            }
        }
        // Rare: a cached instance at the right sequence but of another type or version (or a
        // saga found by key that was cached): its log was not read above.
        let unread = toLoad.filter { logs[$0] == nil && locked[$0].map { $0.lastSequence > 0 } == true }
        if !unread.isEmpty {
            let rows = try await connection.query(
                """
                SELECT saga_id, sequence, event_type, recorded_at, event::text FROM saga_events
                WHERE saga_id IN (SELECT jsonb_array_elements_text(\(JSONRecords.array(unread))::jsonb))
                ORDER BY saga_id, sequence
                """
            )
            for row in rows {
                logs[try row.decode(String.self, at: 0), default: []].append(
                    StoredSagaEvent(
                        sequence: try row.decode(Int.self, at: 1),
                        type: try row.decode(String.self, at: 2),
                        time: try row.decode(Date.self, at: 3),
                        data: Array(try row.decode(String.self, at: 4).utf8)
                    )
                )
            }
        }
        for id in toLoad {
            guard let row = locked[id] else { continue }
            guard let saga = try? registry.definition(name: row.sagaType, version: row.version) else {
                for index in work.indices where sagaIds[index] == id && outcomes[index] == nil {
                    outcomes[index] = .unroutable(
                        reason: "saga \(id) is a \(row.sagaType) v\(row.version), which is not registered here"
                    )
                }
                continue
            }
            sagas[id]?.instance = try saga.load(sagaId: id, events: logs[id] ?? [])
        }
        profile.record("load", since: phase, size: toLoad.count)
        phase = profile.start()

        // 5. Decide, in the order the inputs arrived.
        var writes = BatchWrites(sagaEventsTopic: sagaEventsTopic, documents: documents, expectedDecisions: work.count)
        var spans = TransitionSpans()
        _ = decideInputs(
            work, sagaIds: sagaIds, outcomes: &outcomes, sagas: &sagas, now: now, optimistic: false, writes: &writes,
            spans: &spans)

        // 6. Write everything and commit, in one round trip. Inbox rows of unroutable and
        // rejected messages go again: they are dead-lettered after the commit, and must stay
        // new so that a redelivery (after a crash before the dead letter was acknowledged)
        // reaches the dead letters again instead of being skipped as a duplicate.
        var unroutableIds: [String] = []
        for index in work.indices {
            guard let inboxId = work[index].inboxId, fresh.contains(inboxId) else { continue }
            switch outcomes[index] {
            case .unroutable, .rejected: unroutableIds.append(inboxId)
            default: break
            }
        }
        var (writeStatements, outboxIndex) = writes.statementsFindingOutbox()
        if !unroutableIds.isEmpty {
            writeStatements.append(
                "DELETE FROM inbox WHERE message_id IN (SELECT jsonb_array_elements_text(\(JSONRecords.array(unroutableIds))::jsonb))"
            )
        }
        profile.record("decide", since: phase, size: writes.decisions)
        phase = profile.start()
        writeStatements.append("COMMIT")
        let written: [PostgresRows]
        do {
            written = try await connection.pipeline(writeStatements)
        } catch {
            spans.end(failing: error)
            throw error
        }
        spans.end()
        profile.record("pg.write+commit", since: phase, size: writeStatements.count)
        return try committed(writes, outcomes: outcomes, sagas: sagas, outboxResult: outboxIndex.map { written[$0] })
    }

    /// The timers a locked row holds. A column this version cannot read is logged and taken as
    /// none: failing the batch would stop every other saga of the partition behind it.
    private func armedTimers(of sagaId: String, in row: LockedRow) -> PendingTimers {
        do {
            return try PendingTimers(text: row.timers)
        } catch {
            logger.error("a saga's armed timers cannot be read; it keeps none", metadata: ["saga": "\(sagaId)", "error": "\(error)"])
            return PendingTimers()
        }
    }

    /// The inbox rows of `work`'s message ids; a second message with the same id in the
    /// batch is a duplicate now and gets no row.
    static func inboxRecords(of work: [SagaWork], outcomes: inout [SagaWorkOutcome?]) -> InboxRows {
        var seenInBatch: Set<String> = []
        seenInBatch.reserveCapacity(work.count)
        var rows = InboxRows()
        for index in work.indices {
            guard let inboxId = work[index].inboxId else { continue }
            if !seenInBatch.insert(inboxId).inserted {
                outcomes[index] = .duplicate(sagaId: nil)
                continue
            }
            rows.append(id: inboxId, source: work[index].source)
        }
        return rows
    }

    /// What a committed transaction did, for its caller and the cache; counts it in the metrics.
    ///
    /// - Parameters:
    ///   - sagas: the batch's sagas after its decisions, for the cache entries of those it wrote.
    ///   - outboxResult: the outbox insert's returned rows, whose ids the hand-over needs.
    func committed(
        _ writes: BatchWrites, outcomes: [SagaWorkOutcome?], sagas: [String: BatchSaga], outboxResult: PostgresRows?
    ) throws -> Applied {
        metrics.transitions.increment(by: writes.decisions)
        metrics.record(writes.milestones)
        return Applied(
            outcomes: outcomes.map { $0 ?? .unroutable(reason: "not routed") },
            instances: writes.touchedSagas.compactMap { sagas[$0]?.cacheEntry },
            wroteCommands: writes.wroteOutbox,
            handoff: try writes.handoff(from: outboxResult)
        )
    }
}
