public import Foundation
public import Skald
public import SkaldPostgres

/// The Postgres side of projections: applying new events of some sagas to a read model,
/// rebuilding one from the whole store, and reading their progress.
///
/// Every path reads events from `saga_events`, the source of truth, after the position the
/// projection recorded for the saga (`projection_positions`), and moves that position in the
/// transaction that changes the read model. Locks (see `0004_projections.sql`):
/// - a batch takes `FOR KEY SHARE` on the projection's `projections` row, so batches of
///   several runners go on side by side, and `FOR UPDATE` on its sagas' positions, in id
///   order, so no two batches apply the same saga's events;
/// - a rebuild takes `FOR UPDATE` on the `projections` row, so it waits for the batches in
///   progress and the batches that follow wait for it.
public struct ProjectionStore: Sendable {
    /// Sagas read per page in a rebuild.
    public static let rebuildPageSize = 500

    let pool: PostgresPool
    let registry: SagaRegistry

    /// A store over `pool`, decoding payloads with the definitions in `registry` where it has them.
    public init(pool: PostgresPool, registry: SagaRegistry) {
        self.pool = pool
        self.registry = registry
    }

    /// Creates the projection's tables (its ``SagaProjection/setUp``) and its `projections` row.
    public func prepare(_ projection: any SagaProjection) async throws {
        try ProjectionName.validate(projection.name)
        try await pool.withConnection { connection in
            try await connection.withTransaction { connection in
                for statement in projection.setUp { _ = try await connection.execute(statement) }
                _ = try await connection.execute(
                    "INSERT INTO projections (name) VALUES (\(projection.name)) ON CONFLICT (name) DO NOTHING")
            }
        }
    }

    /// Applies every event of `sagaIds` the projection has not applied yet, in one transaction.
    ///
    /// Sagas of types the projection does not read are left alone.
    public func apply(_ projection: any SagaProjection, sagaIds: some Collection<String>) async throws -> ProjectionProgress {
        let ids = JSONRecords.array(Set(sagaIds).sorted())
        let name = projection.name
        let types = JSONRecords.array(projection.sagaTypes)
        return try await pool.withConnection { connection in
            try await connection.withTransaction { connection in
                let read = try await connection.pipeline([
                    "SELECT name FROM projections WHERE name = \(name) FOR KEY SHARE",
                    """
                    INSERT INTO projection_positions (projection, saga_id, sequence)
                    SELECT \(name), s.saga_id, 0 FROM sagas s
                    WHERE s.saga_id IN (SELECT jsonb_array_elements_text(\(ids)::jsonb))
                      AND (\(types)::jsonb = '[]' OR s.saga_type IN (SELECT jsonb_array_elements_text(\(types)::jsonb)))
                    ORDER BY s.saga_id
                    ON CONFLICT (projection, saga_id) DO NOTHING
                    """,
                    """
                    SELECT saga_id FROM projection_positions
                    WHERE projection = \(name) AND saga_id IN (SELECT jsonb_array_elements_text(\(ids)::jsonb))
                    ORDER BY saga_id FOR UPDATE
                    """,
                    """
                    SELECT s.saga_id, s.saga_type, s.definition_version, s.business_key,
                           e.sequence, e.event_type, e.recorded_at, e.event::text
                    FROM projection_positions p
                    JOIN sagas s ON s.saga_id = p.saga_id
                    JOIN saga_events e ON e.saga_id = p.saga_id AND e.sequence > p.sequence
                    WHERE p.projection = \(name) AND p.saga_id IN (SELECT jsonb_array_elements_text(\(ids)::jsonb))
                    ORDER BY e.saga_id, e.sequence
                    """,
                ])
                guard read[0].count == 1 else {
                    throw SagaRuntimeError("projection '\(name)' has no row in `projections`: run its setUp first")
                }
                var batch = ProjectionWrites(projection: projection)
                try batch.add(try self.events(in: read[3]))
                _ = try await connection.pipeline(batch.statements(positions: .update))
                return batch.progress
            }
        }
    }

    /// Empties the projection's read model and applies every saga's whole log again, in one
    /// transaction: the read model is the old one until the new one commits, whole.
    ///
    /// Batches of runners wait while it runs, then go on from the positions it wrote.
    /// - Parameter pageSize: sagas read per round trip.
    public func rebuild(_ projection: any SagaProjection, pageSize: Int = ProjectionStore.rebuildPageSize) async throws
        -> ProjectionProgress
    {
        try await prepare(projection)
        let name = projection.name
        let types = JSONRecords.array(projection.sagaTypes)
        return try await pool.withConnection { connection in
            try await connection.withTransaction { connection in
                _ = try await connection.query("SELECT name FROM projections WHERE name = \(name) FOR UPDATE")
                for statement in projection.reset { _ = try await connection.execute(statement) }
                _ = try await connection.execute("DELETE FROM projection_positions WHERE projection = \(name)")
                var total = ProjectionProgress()
                var after = ""
                while true {
                    let page = try await connection.query(
                        """
                        SELECT saga_id FROM sagas
                        WHERE saga_id > \(after)
                          AND (\(types)::jsonb = '[]' OR saga_type IN (SELECT jsonb_array_elements_text(\(types)::jsonb)))
                        ORDER BY saga_id LIMIT \(max(1, pageSize))
                        """
                    ).decode(String.self)
                    guard let last = page.last else { break }
                    after = last
                    let ids = JSONRecords.array(page)
                    let rows = try await connection.query(
                        """
                        SELECT s.saga_id, s.saga_type, s.definition_version, s.business_key,
                               e.sequence, e.event_type, e.recorded_at, e.event::text
                        FROM sagas s JOIN saga_events e ON e.saga_id = s.saga_id
                        WHERE s.saga_id IN (SELECT jsonb_array_elements_text(\(ids)::jsonb))
                        ORDER BY e.saga_id, e.sequence
                        """
                    )
                    var batch = ProjectionWrites(projection: projection)
                    try batch.add(try self.events(in: rows))
                    _ = try await connection.pipeline(batch.statements(positions: .insert, counting: false))
                    total.add(batch.progress)
                }
                _ = try await connection.execute(
                    """
                    UPDATE projections SET events_applied = \(total.events), rebuilt_at = now(),
                        rebuilt_sagas = \(total.sagas), last_applied_at = now(), last_event_at = \(total.newestEventAt)
                    WHERE name = \(name)
                    """
                )
                return total
            }
        }
    }

    /// The progress recorded for every projection that has run against this store, by name.
    public func records() async throws -> [String: ProjectionRecord] {
        let rows = try await pool.withConnection { connection in
            try await connection.query(
                """
                SELECT name, events_applied, last_applied_at, last_event_at, rebuilt_at, rebuilt_sagas,
                       (SELECT count(*) FROM projection_positions p WHERE p.projection = projections.name)
                FROM projections ORDER BY name
                """
            )
        }
        var records: [String: ProjectionRecord] = [:]
        for row in rows {
            let record = ProjectionRecord(
                name: try row.decode(String.self, at: 0),
                eventsApplied: try row.decode(Int.self, at: 1),
                lastAppliedAt: try row.decode(Date?.self, at: 2),
                lastEventAt: try row.decode(Date?.self, at: 3),
                rebuiltAt: try row.decode(Date?.self, at: 4),
                rebuiltSagas: try row.decode(Int?.self, at: 5),
                sagas: try row.decode(Int.self, at: 6)
            )
            records[record.name] = record
        }
        return records
    }

    /// The events in `rows` (columns: saga id, type, version, key, sequence, event type, time,
    /// event), decoded per saga with its definition when this process registers it.
    func events(in rows: PostgresRows) throws -> [ProjectedEvent] {
        var events: [ProjectedEvent] = []
        events.reserveCapacity(rows.count)
        var index = rows.startIndex
        while index < rows.endIndex {
            let first = rows[index]
            let sagaId = try first.decode(String.self, at: 0)
            let sagaType = try first.decode(String.self, at: 1)
            let version = try first.decode(Int.self, at: 2)
            let businessKey = try first.decode(String?.self, at: 3)
            var stored: [StoredSagaEvent] = []
            while index < rows.endIndex, try rows[index].decode(String.self, at: 0) == sagaId {
                let row = rows[index]
                stored.append(
                    StoredSagaEvent(
                        sequence: try row.decode(Int.self, at: 4), type: try row.decode(String.self, at: 5),
                        time: try row.decode(Date.self, at: 6), data: try row.textBytes(at: 7) ?? []))
                index += 1
            }
            let decoded: [SagaEvent]
            do {
                if let definition = try? registry.definition(name: sagaType, version: version) {
                    decoded = try definition.decodeStored(stored)
                } else {
                    decoded = try stored.map { try SagaEvent.decode(jsonBytes: $0.data) }
                }
            } catch {
                throw SagaRuntimeError("saga \(sagaId): its stored events do not decode: \(error)")
            }
            for event in decoded {
                events.append(
                    ProjectedEvent(
                        sagaId: sagaId, sagaType: sagaType, definitionVersion: version, businessKey: businessKey,
                        event: event))
            }
        }
        return events
    }
}

/// What one batch or rebuild applied.
public struct ProjectionProgress: Sendable, Equatable {
    /// Events applied.
    public var events = 0
    /// Sagas whose position moved.
    public var sagas = 0
    /// The newest applied event's time.
    public var newestEventAt: Date?

    /// Nothing yet.
    public init() {}

    mutating func add(_ other: ProjectionProgress) {
        events += other.events
        sagas += other.sagas
        if let time = other.newestEventAt, newestEventAt.map({ time > $0 }) ?? true { newestEventAt = time }
    }
}

/// A projection's row in `projections`: what it has applied and when.
public struct ProjectionRecord: Sendable, Equatable {
    /// The projection's name.
    public var name: String
    /// Events applied since its last rebuild (or since it first ran).
    public var eventsApplied: Int
    /// When a batch or rebuild last applied events.
    public var lastAppliedAt: Date?
    /// The newest applied event's own time.
    public var lastEventAt: Date?
    /// When its last rebuild committed.
    public var rebuiltAt: Date?
    /// Sagas that rebuild applied.
    public var rebuiltSagas: Int?
    /// Sagas it has a position for.
    public var sagas: Int
}
