public import Foundation
public import Skald
public import SkaldPostgres

/// The Postgres side of projections: applying new events of some sagas to a read model,
/// rebuilding one from the whole store, and reading their progress.
///
/// Every path reads events from `saga_events`, the source of truth, after the position the
/// projection recorded for the saga (`projection_positions`), and moves that position in the
/// transaction that changes the read model. Locks (see `0004_projections.sql`):
/// - a batch takes the projection's advisory lock shared, so batches of several runners go on
///   side by side, and `FOR UPDATE` on its sagas' positions, in id order, so no two batches
///   apply the same saga's events;
/// - a rebuild takes the advisory lock exclusively: it waits for the batches in progress, and
///   batches that ask after it wait for it (the lock queue is first come, first served, so a
///   stream of batches cannot starve a rebuild).
/// A batch waits for a lock at most ``lockTimeout`` and then fails with SQLSTATE 55P03, which
/// its runner retries: a runner stuck behind a long rebuild still notices a shutdown.
public struct ProjectionStore: Sendable {
    /// Sagas read per page in a rebuild or a catch-up.
    public static let rebuildPageSize = 500
    /// How long a batch waits for a lock (a rebuild's, another runner's) before it gives up and is retried.
    public static let lockTimeout = "5s"

    /// `SET LOCAL lock_timeout`, built as a String: interpolating into a `PostgresQuery` makes a bind, and `SET` takes none.
    static let setLockTimeout = PostgresQuery("SET LOCAL lock_timeout = '" + lockTimeout + "'")

    /// Takes the projection's advisory lock for the transaction: `shared` for a batch, exclusive for a rebuild.
    static func lock(_ name: String, shared: Bool) -> PostgresQuery {
        // The first key keeps these apart from the relay's lane locks in the same schema.
        shared
            ? "SELECT pg_advisory_xact_lock_shared(hashtext(current_schema() || '/projection'), hashtext(\(name)))"
            : "SELECT pg_advisory_xact_lock(hashtext(current_schema() || '/projection'), hashtext(\(name)))"
    }

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
                // One process at a time: two sessions creating the same table at once can fail on
                // the catalog's unique index instead of finding it there.
                _ = try await connection.query(Self.setLockTimeout)
                _ = try await connection.query(Self.lock(projection.name, shared: false))
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
                    Self.setLockTimeout,
                    Self.lock(name, shared: true),
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
                var batch = ProjectionWrites(projection: projection)
                try batch.add(try self.events(in: read[4]))
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
        // The lock is waited for in rounds of ``lockTimeout``, so a rebuild queued behind another
        // one (from another process) still notices that its task was cancelled.
        while true {
            do {
                return try await rebuildOnce(projection, pageSize: pageSize)
            } catch let error as PostgresError where error.sqlState == "55P03" {
                try Task.checkCancellation()
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    private func rebuildOnce(_ projection: any SagaProjection, pageSize: Int) async throws -> ProjectionProgress {
        try await prepare(projection)
        let name = projection.name
        let types = JSONRecords.array(projection.sagaTypes)
        return try await pool.withConnection { connection in
            try await connection.withTransaction { connection in
                _ = try await connection.query(Self.setLockTimeout)
                _ = try await connection.query(Self.lock(name, shared: false))
                // Held: the rebuild's own statements may wait as long as they need.
                _ = try await connection.query("SET LOCAL lock_timeout = 0")
                for statement in projection.reset { _ = try await connection.execute(statement) }
                _ = try await connection.execute("DELETE FROM projection_positions WHERE projection = \(name)")
                var total = ProjectionProgress()
                var after = ""
                while true {
                    // A rebuild cancelled (the orchestrator stopping) rolls back at a page's end.
                    try Task.checkCancellation()
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
                    _ = try await connection.pipeline(batch.statements(positions: .insert))
                    total.add(batch.progress)
                }
                _ = try await connection.execute(
                    """
                    UPDATE projections SET rebuilt_at = now(), rebuilt_sagas = \(total.sagas), rebuilt_events = \(total.events)
                    WHERE name = \(name)
                    """
                )
                return total
            }
        }
    }

    /// Applies, a page of sagas at a time, every saga of the projection's types whose log is
    /// ahead of its position: sagas whose mirrored messages never reached the runner (events
    /// written while the mirror was off, a topic whose retention dropped them) and that will not
    /// move again. Runners make this pass when they start; a new projection catches up with the
    /// whole store through it.
    public func catchUp(_ projection: any SagaProjection, pageSize: Int = ProjectionStore.rebuildPageSize) async throws
        -> ProjectionProgress
    {
        let name = projection.name
        let types = JSONRecords.array(projection.sagaTypes)
        var total = ProjectionProgress()
        var after = ""
        while true {
            try Task.checkCancellation()
            let behind = try await pool.withConnection { connection in
                try await connection.query(
                    """
                    SELECT s.saga_id FROM sagas s
                    LEFT JOIN projection_positions p ON p.projection = \(name) AND p.saga_id = s.saga_id
                    WHERE s.saga_id > \(after) AND coalesce(p.sequence, 0) < s.last_sequence
                      AND (\(types)::jsonb = '[]' OR s.saga_type IN (SELECT jsonb_array_elements_text(\(types)::jsonb)))
                    ORDER BY s.saga_id LIMIT \(max(1, pageSize))
                    """
                ).decode(String.self)
            }
            guard let last = behind.last else { return total }
            after = last
            total.add(try await apply(projection, sagaIds: behind))
        }
    }

    /// The progress recorded for every projection that has run against this store, by name.
    ///
    /// Counts the projection's positions, so it reads one index entry per saga it has applied.
    public func records() async throws -> [String: ProjectionRecord] {
        let rows = try await pool.withConnection { connection in
            try await connection.query(
                """
                SELECT j.name, j.rebuilt_at, j.rebuilt_sagas, j.rebuilt_events, p.sagas, p.events, p.newest
                FROM projections j
                CROSS JOIN LATERAL (
                    SELECT count(*) AS sagas, coalesce(sum(sequence), 0)::bigint AS events, max(event_at) AS newest
                    FROM projection_positions WHERE projection = j.name) p
                ORDER BY j.name
                """
            )
        }
        var records: [String: ProjectionRecord] = [:]
        for row in rows {
            let record = ProjectionRecord(
                name: try row.decode(String.self, at: 0),
                rebuiltAt: try row.decode(Date?.self, at: 1),
                rebuiltSagas: try row.decode(Int?.self, at: 2),
                rebuiltEvents: try row.decode(Int?.self, at: 3),
                sagas: try row.decode(Int.self, at: 4),
                eventsApplied: try row.decode(Int.self, at: 5),
                lastEventAt: try row.decode(Date?.self, at: 6)
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

/// What the store records of a projection: its positions, summed up, and its last rebuild.
public struct ProjectionRecord: Sendable, Equatable {
    /// The projection's name.
    public var name: String
    /// When its last rebuild committed.
    public var rebuiltAt: Date?
    /// Sagas that rebuild applied.
    public var rebuiltSagas: Int?
    /// Events that rebuild applied.
    public var rebuiltEvents: Int?
    /// Sagas it has a position for.
    public var sagas: Int
    /// Events applied: the sum of its positions, each saga's log being applied from its start.
    public var eventsApplied: Int
    /// The newest applied event's own time: how current the read model is.
    public var lastEventAt: Date?
}
