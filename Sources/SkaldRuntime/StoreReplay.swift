import Foundation
public import Skald
public import SkaldPostgres

/// Re-runs the stored histories of sagas through the registered definitions: the check to run
/// before a deploy, and whenever a log's trustworthiness is in question.
///
/// For each saga it feeds every recorded input (start, reply, timer, operator command) to the
/// definition with the recorded time and compares the events it decides with the recorded
/// ones (``RuntimeSagaDefinition/replayCheck(sagaId:events:)``). Against the version the saga
/// runs, it also folds the log and compares the result with the `sagas` snapshot row, which
/// the admin API and every listing read. Against the newest version (``Target/latestVersion``)
/// it answers "could these sagas move to the definition about to be deployed?".
public struct StoreReplay: Sendable {
    /// Which definition a saga is checked against.
    public enum Target: Sendable {
        /// The version the saga runs (its `definition_version`).
        case recordedVersion
        /// The newest registered version of its type.
        case latestVersion
    }

    /// Where the store is.
    public let pool: PostgresPool
    /// The definitions.
    public let registry: SagaRegistry
    /// Sagas read per round trip.
    public var pageSize = 200

    /// A replay over `pool`'s store with `registry`'s definitions.
    public init(pool: PostgresPool, registry: SagaRegistry) {
        self.pool = pool
        self.registry = registry
    }

    /// Checks the sagas `filter` selects, newest first, at most `limit` of them.
    ///
    /// - Parameter onFinding: called with each finding as it is found (to print while running).
    public func run(
        _ filter: SagaListFilter, limit: Int? = nil, target: Target = .recordedVersion,
        onFinding: (StoreReplayFinding) -> Void = { _ in }
    ) async throws -> StoreReplaySummary {
        let queries = SagaQueries(pool: pool)
        var summary = StoreReplaySummary()
        var cursor: SagaListCursor?
        repeat {
            let wanted = min(pageSize, limit.map { $0 - summary.checked } ?? pageSize)
            guard wanted > 0 else { break }
            let page = try await queries.list(filter, limit: wanted, after: cursor)
            try await check(page.sagas, target: target, into: &summary, onFinding: onFinding)
            cursor = page.next
        } while cursor != nil
        return summary
    }

    /// Checks the sagas with these ids (those that exist).
    public func run(
        sagaIds: [String], target: Target = .recordedVersion, onFinding: (StoreReplayFinding) -> Void = { _ in }
    ) async throws -> StoreReplaySummary {
        let queries = SagaQueries(pool: pool)
        var sagas: [SagaSummary] = []
        for sagaId in sagaIds {
            if let saga = try await queries.saga(id: sagaId) { sagas.append(saga.summary) }
        }
        var summary = StoreReplaySummary()
        try await check(sagas, target: target, into: &summary, onFinding: onFinding)
        return summary
    }

    private func check(
        _ sagas: [SagaSummary], target: Target, into summary: inout StoreReplaySummary,
        onFinding: (StoreReplayFinding) -> Void
    ) async throws {
        guard !sagas.isEmpty else { return }
        let ids = JSONRecords.array(sagas.map(\.sagaId))
        // One snapshot of the store for the logs and their rows: on a live store a saga that
        // moves between two reads would otherwise look damaged.
        let (eventRows, snapshotRows) = try await pool.withConnection { connection in
            try await connection.withTransaction(isolation: .repeatableRead) { connection in
                let events = try await connection.query(
                    """
                    SELECT saga_id, sequence, event_type, recorded_at, event::text FROM saga_events
                    WHERE saga_id IN (SELECT json_array_elements_text(\(ids)::json)) ORDER BY saga_id, sequence
                    """)
                let snapshots = try await connection.query(
                    PostgresQuery(
                        """
                        SELECT \(SagaQueries.summaryColumns), state::text, steps::text, last_sequence FROM sagas
                        WHERE saga_id IN (SELECT json_array_elements_text($1::json))
                        """, [PostgresValue(ids)]))
                return (events, snapshots)
            }
        }
        var logs: [String: [StoredSagaEvent]] = [:]
        for row in eventRows {
            logs[try row.decode(String.self, at: 0), default: []].append(
                StoredSagaEvent(
                    sequence: try row.decode(Int.self, at: 1), type: try row.decode(String.self, at: 2),
                    time: try row.decode(Date.self, at: 3), data: try row.textBytes(at: 4) ?? []))
        }
        var stored: [String: StoredSnapshot] = [:]
        for row in snapshotRows {
            let summary = try SagaQueries.summary(row)
            stored[summary.sagaId] = StoredSnapshot(
                summary: summary, state: try row.textBytes(at: 9) ?? [], steps: try row.textBytes(at: 10) ?? [],
                lastSequence: try row.decode(Int.self, at: 11))
        }
        for saga in sagas {
            // A saga gone since it was listed was not checked.
            guard let snapshot = stored[saga.sagaId] else { continue }
            summary.checked += 1
            if let finding = examine(snapshot, events: logs[saga.sagaId] ?? [], target: target, summary: &summary) {
                summary.record(finding)
                onFinding(finding)
            } else {
                summary.identical += 1
            }
        }
    }

    /// A `sagas` row as read for the check.
    struct StoredSnapshot {
        var summary: SagaSummary
        var state: [UInt8]
        var steps: [UInt8]
        var lastSequence: Int
    }

    private func examine(
        _ stored: StoredSnapshot, events: [StoredSagaEvent], target: Target, summary: inout StoreReplaySummary
    ) -> StoreReplayFinding? {
        let saga = stored.summary
        func finding(_ version: Int?, _ kind: StoreReplayFinding.Kind) -> StoreReplayFinding {
            StoreReplayFinding(sagaId: saga.sagaId, sagaType: saga.sagaType, version: version, kind: kind)
        }
        // A log that ends before its snapshot does replays as far as it goes: say so instead.
        guard events.last?.sequence == stored.lastSequence, events.count == stored.lastSequence else {
            return finding(
                nil,
                .unreadable(
                    "its log holds \(events.count) events up to sequence \(events.last?.sequence ?? 0), "
                        + "its snapshot says \(stored.lastSequence): events are missing"))
        }
        let definition: any RuntimeSagaDefinition
        do {
            definition =
                switch target {
                case .recordedVersion: try registry.definition(name: saga.sagaType, version: saga.version)
                case .latestVersion: try registry.latest(name: saga.sagaType)
                }
        } catch {
            return finding(nil, .noDefinition("\(error)"))
        }
        summary.byDefinition["\(definition.name) v\(definition.version)", default: 0] += 1
        let report: ReplayReport
        do {
            report = try definition.replayCheck(sagaId: saga.sagaId, events: events)
        } catch {
            return finding(definition.version, .unreadable("\(error)"))
        }
        guard report.isCompatible else { return finding(definition.version, .diverged(report)) }
        guard target == .recordedVersion else { return nil }
        do {
            let folded = try definition.snapshot(of: try definition.load(sagaId: saga.sagaId, events: events))
            let differences = try Self.differences(folded: folded, stored: stored)
            return differences.isEmpty ? nil : finding(definition.version, .snapshotDiffers(differences))
        } catch {
            return finding(definition.version, .unreadable("\(error)"))
        }
    }

    /// The snapshot fields where the fold of the log and the stored row disagree.
    static func differences(folded: SagaSnapshot, stored row: StoredSnapshot) throws -> [String] {
        let stored = row.summary
        var differences: [String] = []
        func compare<Value: Equatable>(_ name: String, _ log: Value, _ row: Value) {
            if log != row { differences.append("\(name) (log: \(log), stored: \(row))") }
        }
        compare("status", folded.status.rawValue, stored.status.rawValue)
        compare("current step", folded.currentStep ?? "none", stored.currentStep ?? "none")
        compare("last sequence", folded.lastSequence, row.lastSequence)
        compare("business key", folded.businessKey, stored.businessKey ?? "")
        compare("stuck reason", folded.stuckReason ?? "none", stored.stuckReason ?? "none")
        // Both sides at Postgres's precision, as the pump writes them.
        func micros(_ date: Date?) -> String { date.map { Timestamp.format(Timestamp.truncate($0)) } ?? "none" }
        compare("started at", micros(folded.startedAt), micros(stored.createdAt))
        compare("updated at", micros(folded.updatedAt), micros(stored.updatedAt))
        let decoder = JSONDecoder()
        if try decoder.decode(JSONValue.self, from: Data(folded.state)) != decoder.decode(JSONValue.self, from: Data(row.state)) {
            differences.append("state")
        }
        let storedSteps = try decoder.decode([SagaStepView].self, from: Data(row.steps))
        let foldedSteps = folded.steps.map {
            SagaStepView(
                name: $0.name, kind: $0.kind.rawValue, phase: $0.phase.rawValue, compensation: $0.compensation.rawValue,
                attempt: $0.attempt)
        }
        for (log, row) in zip(foldedSteps, storedSteps) where log != row {
            differences.append("step \(log.name) (log: \(log.phase)/\(log.compensation)/\(log.attempt), stored: \(row.phase)/\(row.compensation)/\(row.attempt))")
        }
        compare("step count", foldedSteps.count, storedSteps.count)
        return differences
    }
}
