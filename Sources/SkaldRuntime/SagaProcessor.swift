public import Foundation
public import Logging
public import Skald
public import SkaldPostgres

/// Applies inputs to sagas in one Postgres transaction: the effectively-once step.
///
/// For a batch of ``SagaWork`` it finds the sagas (by id or business key), locks
/// their rows in a fixed order, records each message id in the inbox (a message
/// seen before is skipped), folds the instances it has not cached, runs the pure
/// `decide` for each input in order, and writes the new events, the snapshots, the
/// outbox rows, the timers and the correlations — every write a single
/// parameterised statement over a JSON array, pipelined with the commit.
public final class SagaProcessor: Sendable {
    let registry: SagaRegistry
    let cache: InstanceCache
    let metrics: OrchestratorMetrics
    let logger: Logger

    /// Creates a processor for the sagas in `registry`.
    public init(
        registry: SagaRegistry,
        cacheCapacity: Int = 100_000,
        metrics: OrchestratorMetrics = OrchestratorMetrics(),
        logger: Logger = Logger(label: "skald.processor")
    ) {
        self.registry = registry
        self.cache = InstanceCache(capacity: cacheCapacity)
        self.metrics = metrics
        self.logger = logger
    }

    /// Applies `work` in one transaction on `connection`, retrying the whole batch on a
    /// deadlock, a serialization failure or a concurrent first write of the same saga.
    ///
    /// - Returns: one outcome per item, in order, and whether any command went to the outbox.
    public func process(
        _ work: [SagaWork], on connection: PostgresConnection, now: Date
    ) async throws -> SagaBatchResult {
        try await process(on: connection, now: now) { _ in work }
    }

    /// Like ``process(_:on:now:)``, with the work gathered inside the transaction by
    /// `collect` (the timer service deletes due timers there, so firing and applying
    /// them commit together or not at all).
    public func process(
        on connection: PostgresConnection,
        now: Date,
        collect: (PostgresConnection) async throws -> [SagaWork]
    ) async throws -> SagaBatchResult {
        var attempt = 0
        while true {
            attempt += 1
            do {
                let result = try await connection.withTransaction { connection in
                    let work = try await collect(connection)
                    return (work, try await self.apply(work, on: connection, now: now))
                }
                cache.store(result.1.instances)
                return SagaBatchResult(work: result.0, outcomes: result.1.outcomes, wroteCommands: result.1.wroteCommands)
            } catch let error as PostgresError
                where attempt < 5 && (error.isDeadlock || error.isSerializationFailure || error.sqlState == "23505")
            {
                logger.debug("saga batch conflicted; retrying", metadata: ["attempt": "\(attempt)", "error": "\(error)"])
                try await Task.sleep(for: .milliseconds(5 * attempt))
            }
        }
    }

    private struct Applied {
        var outcomes: [SagaWorkOutcome]
        var instances: [(instance: AnySagaInstance, isFinal: Bool)]
        var wroteCommands: Bool
    }

    /// A locked `sagas` row.
    private struct LockedRow {
        var sagaType: String
        var version: Int
        var status: String
        var lastSequence: Int
    }

    private func apply(_ work: [SagaWork], on connection: PostgresConnection, now: Date) async throws -> Applied {
        if work.isEmpty { return Applied(outcomes: [], instances: [], wroteCommands: false) }
        var outcomes = [SagaWorkOutcome?](repeating: nil, count: work.count)

        // 1. Business keys → saga ids.
        var correlated: [String: String] = [:]  // "type\u{0}key" → saga id
        var keysToResolve = JSONRecords()
        for item in work {
            if case .correlated(let type, let key) = item.target {
                keysToResolve.beginRecord()
                keysToResolve.field("t", type)
                keysToResolve.field("k", key)
                keysToResolve.endRecord()
            }
        }
        if keysToResolve.count > 0 {
            let rows = try await connection.query(
                """
                SELECT c.saga_type, c.correlation_key, c.saga_id FROM correlations c
                JOIN jsonb_to_recordset(\(keysToResolve.text)::jsonb) AS x(t text, k text)
                  ON c.saga_type = x.t AND c.correlation_key = x.k
                """
            )
            for row in rows {
                correlated[try row.decode(String.self, at: 0) + "\u{0}" + row.decode(String.self, at: 1)] =
                    try row.decode(String.self, at: 2)
            }
        }
        var sagaIds = [String?](repeating: nil, count: work.count)
        for (index, item) in work.enumerated() {
            switch item.target {
            case .saga(let id): sagaIds[index] = id
            case .start(_, let id, _): sagaIds[index] = id
            case .correlated(let type, let key):
                sagaIds[index] = correlated[type + "\u{0}" + key]
                if sagaIds[index] == nil {
                    outcomes[index] = .unroutable(reason: "no \(type) saga has the business key '\(key)'")
                }
            }
        }

        // 2. Lock the rows, in id order so two batches never wait on each other in a cycle.
        let involved = Set(sagaIds.compactMap { $0 }).sorted()
        var locked: [String: LockedRow] = [:]
        if !involved.isEmpty {
            let rows = try await connection.query(
                """
                SELECT saga_id, saga_type, definition_version, status, last_sequence FROM sagas
                WHERE saga_id IN (SELECT jsonb_array_elements_text(\(JSONRecords.array(involved))::jsonb))
                ORDER BY saga_id FOR UPDATE
                """
            )
            for row in rows {
                locked[try row.decode(String.self, at: 0)] = LockedRow(
                    sagaType: try row.decode(String.self, at: 1),
                    version: try row.decode(Int.self, at: 2),
                    status: try row.decode(String.self, at: 3),
                    lastSequence: try row.decode(Int.self, at: 4)
                )
            }
        }
        for (index, item) in work.enumerated() where outcomes[index] == nil {
            guard let id = sagaIds[index] else { continue }
            if case .start = item.target { continue }
            if locked[id] == nil {
                outcomes[index] = .unroutable(reason: "no saga has the id '\(id)'")
            }
        }

        // 3. The inbox: only routable messages are recorded, so an unroutable one is
        // still new when it is redelivered after a crash and reaches the dead letters.
        var seenInBatch: Set<String> = []
        var inboxRecords = JSONRecords()
        for (index, item) in work.enumerated() where outcomes[index] == nil {
            guard let inboxId = item.inboxId else { continue }
            if !seenInBatch.insert(inboxId).inserted {
                outcomes[index] = .duplicate(sagaId: sagaIds[index])
                continue
            }
            inboxRecords.beginRecord()
            inboxRecords.field("id", inboxId)
            inboxRecords.field("source", item.source)
            inboxRecords.endRecord()
        }
        var fresh: Set<String> = []
        if inboxRecords.count > 0 {
            let rows = try await connection.query(
                """
                INSERT INTO inbox (message_id, source)
                SELECT x.id, x.source FROM jsonb_to_recordset(\(inboxRecords.text)::jsonb) AS x(id text, source text)
                ON CONFLICT (message_id) DO NOTHING RETURNING message_id
                """
            )
            for row in rows { fresh.insert(try row.decode(String.self, at: 0)) }
        }
        var duplicates = 0
        for (index, item) in work.enumerated() where outcomes[index] == nil {
            if let inboxId = item.inboxId, !fresh.contains(inboxId) {
                outcomes[index] = .duplicate(sagaId: sagaIds[index])
                duplicates += 1
            }
        }
        if duplicates > 0 { metrics.inboxDuplicates.increment(by: duplicates) }

        // 4. Instances: from the cache when it is at the locked sequence, else folded from the log.
        var instances: [String: AnySagaInstance] = [:]
        var finished: Set<String> = []
        var toLoad: [String] = []
        for id in involved {
            guard let row = locked[id] else { continue }
            if SagaStatus(rawValue: row.status)?.isFinal == true { finished.insert(id) }
            if let cached = cache.instance(id, atSequence: row.lastSequence), cached.sagaType == row.sagaType,
                cached.version == row.version
            {
                instances[id] = cached
            } else {
                toLoad.append(id)
            }
        }
        if !toLoad.isEmpty {
            let rows = try await connection.query(
                """
                SELECT saga_id, sequence, event_type, recorded_at, event::text FROM saga_events
                WHERE saga_id IN (SELECT jsonb_array_elements_text(\(JSONRecords.array(toLoad))::jsonb))
                ORDER BY saga_id, sequence
                """
            )
            var logs: [String: [StoredSagaEvent]] = [:]
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
                instances[id] = try saga.load(sagaId: id, events: logs[id] ?? [])
            }
        }

        // 5. Decide, in the order the inputs arrived.
        var writes = BatchWrites()
        for (index, item) in work.enumerated() where outcomes[index] == nil {
            guard let id = sagaIds[index] else { continue }
            let saga: any RuntimeSagaDefinition
            let instance: AnySagaInstance
            var isNew = false
            if let existing = instances[id] {
                if case .start = item.target {
                    // The same start again (another message id, the same business key): one saga.
                    outcomes[index] = .duplicate(sagaId: id)
                    continue
                }
                if finished.contains(id), case .timer = item.input {
                    // A timer that outlived its saga changes nothing worth recording.
                    outcomes[index] = .duplicate(sagaId: id)
                    continue
                }
                guard let registered = try? registry.definition(name: existing.sagaType, version: existing.version) else {
                    outcomes[index] = .unroutable(reason: "saga type \(existing.sagaType) v\(existing.version) is not registered")
                    continue
                }
                saga = registered
                instance = existing
            } else if case .start(let type, _, _) = item.target, let latest = try? registry.latest(name: type) {
                saga = latest
                instance = latest.newInstance(sagaId: id)
                isNew = true
            } else {
                outcomes[index] = .unroutable(reason: "no saga has the id '\(id)'")
                continue
            }
            do {
                let decision = try saga.decide(instance, item.input, now: now)
                instances[id] = decision.instance
                if decision.snapshot.status.isFinal { finished.insert(id) } else { finished.remove(id) }
                writes.add(decision)
                if isNew {
                    var key = decision.snapshot.businessKey
                    if key.isEmpty, case .start(_, _, let triggerKey?) = item.target { key = triggerKey }
                    if !key.isEmpty { writes.correlate(sagaType: saga.name, key: key, sagaId: id) }
                }
                outcomes[index] = .applied(sagaId: id)
            } catch {
                outcomes[index] = .rejected(reason: "\(error)")
                logger.warning("saga refused an input", metadata: ["saga": "\(id)", "error": "\(error)"])
            }
        }

        // 6. Write everything in one round trip; the caller's transaction commits it.
        let statements = writes.statements()
        if !statements.isEmpty {
            _ = try await connection.pipeline(statements)
        }
        metrics.transitions.increment(by: writes.decisions)
        return Applied(
            outcomes: outcomes.map { $0 ?? .unroutable(reason: "not routed") },
            instances: writes.touchedSagas.compactMap { id in instances[id].map { ($0, finished.contains(id)) } },
            wroteCommands: writes.commandCount > 0
        )
    }
}
