import Foundation
public import Logging
public import ServiceLifecycle
public import SkaldKafka
public import SkaldPostgres
import Synchronization

/// Publishes the outbox to Kafka: the second half of effectively-once.
///
/// Rows are written by the transactions that decide a saga's next commands; the
/// relay publishes them in batches with the idempotent producer, awaits every
/// delivery report, and only then deletes them, a few rounds' worth at a time
/// (``DeliveredRows``). A crash between the two publishes a row twice, which
/// participants absorb by the command id in `ce_id`.
///
/// Order: rows carry a `lane` derived from the saga id, and each lane is owned by
/// one relay at a time through a session advisory lock, so one saga's commands
/// leave in the order they were decided even with several orchestrator processes.
/// A relay whose process dies loses its locks with its connection and another
/// relay takes the lanes over at its next ownership check.
///
/// Writers in the relay's own process hand it the rows they committed (``OutboxHandoff``),
/// and it publishes those without reading them back; it reads the outbox, merging by id,
/// whenever it may hold rows it was not handed (a notification, a lane taken over, a failed
/// round) and at least every poll interval.
public final class OutboxRelay: Service {
    /// How many lanes rows are spread over; every process must use the same number.
    public static let laneCount = 16
    /// The first advisory lock key of the lanes: lane `n` locks (hash of the schema, `base + n`).
    static let laneLockBase32: Int32 = 0x534B_0100
    /// The `outbox` table this relay reads, for services that reuse the relay on a schema of
    /// their own (the orchestrator's copy is in `schemas/postgres/0001_saga_store.sql`).
    ///
    /// This text is part of applied migrations (a migration is checked against its applied
    /// checksum), so it never changes: later changes come as further statements, such as
    /// ``outboxJSONColumnsSQL``.
    public static let outboxTableSQL = """
        -- Messages waiting to be published, written in the transaction of their cause. The relay
        -- deletes a row once Kafka acknowledged it; `lane` keeps one saga's messages in order.
        CREATE TABLE outbox (
            id          bigserial   PRIMARY KEY,
            lane        smallint    NOT NULL,
            message_id  text        NOT NULL UNIQUE,
            saga_id     text        NOT NULL,
            topic       text        NOT NULL,
            message_key text        NOT NULL,
            headers     jsonb       NOT NULL,
            payload     jsonb       NOT NULL,
            created_at  timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX outbox_by_lane ON outbox (lane, id);
        -- A queue: every row is deleted soon after it is written. Vacuum it often, so the relay's
        -- index scans do not wade through dead rows.
        ALTER TABLE outbox SET (autovacuum_vacuum_scale_factor = 0.0, autovacuum_vacuum_threshold = 5000,
                                autovacuum_vacuum_cost_delay = 0);
        """

    /// Turns the outbox's `headers` and `payload` from `jsonb` into `json`, as
    /// `schemas/postgres/0002_cheaper_writes.sql` does for the orchestrator: the relay then
    /// publishes the bytes that were written, and no write parses and re-sorts them. The relay
    /// reads either type.
    public static let outboxJSONColumnsSQL = """
        ALTER TABLE outbox ALTER COLUMN headers TYPE json USING headers::json,
                           ALTER COLUMN payload TYPE json USING payload::json;
        """

    /// Turns the outbox's `headers` and `payload` into `text`, as
    /// `schemas/postgres/0008_outbox_text.sql` does for the orchestrator (which says why): no
    /// insert parses them as JSON any more. Earlier versions' `json` inserts still fit.
    public static let outboxTextColumnsSQL = """
        SET LOCAL lock_timeout = '10s';
        ALTER TABLE outbox ALTER COLUMN headers TYPE text,
                           ALTER COLUMN payload TYPE text;
        """

    /// Adds the columns of the saga-event mirror's range rows, as
    /// `schemas/postgres/0006_event_ranges.sql` does for the orchestrator. A service never
    /// writes such rows, but the pump and the services insert outbox rows with one statement
    /// (`PumpStatements.enqueueCommands`).
    public static let outboxEventRangesSQL = """
        ALTER TABLE outbox ADD COLUMN first_sequence integer,
                           ADD COLUMN last_sequence  integer;
        """

    /// Leaves the outbox one index, its primary key, as `schemas/postgres/0007_outbox_one_index.sql`
    /// does for the orchestrator (which says why). A contract migration
    /// (``PostgresMigration/isContract``): processes of earlier versions need the unique message id.
    public static let outboxOneIndexSQL = """
        \(PostgresMigration.contractMarker)
        SET LOCAL lock_timeout = '10s';
        ALTER TABLE outbox DROP CONSTRAINT outbox_message_id_key;
        DROP INDEX outbox_by_lane;
        """

    /// The SQL expression of the channel a writer notifies after it commits new outbox rows:
    /// one channel per schema, the one whose outbox it wrote.
    ///
    /// Channels are database-wide. With one shared channel, every commit of the orchestrator
    /// woke the relays of all four example services (other schemas, same database) for
    /// nothing: four outbox reads per commit. The schema goes in as its MD5 (45 bytes in all):
    /// `pg_notify` refuses a channel of 64 bytes or more, which a long or non-ASCII schema
    /// name would otherwise make.
    public static let notificationChannelSQL = "'skald_outbox_' || md5(current_schema())"

    /// Notifies the relays of the session's schema; run it in the transaction that wrote the rows.
    public static let notifySQL = "SELECT pg_notify(\(notificationChannelSQL), '')"

    private let postgresURL: String
    private let pool: PostgresPool
    private let producer: KafkaProducer
    private let batchSize: Int
    private let pollInterval: Duration
    /// How long delivered rows may wait to be deleted together (``DeliveredRows``).
    private let forgetDelay: Duration
    /// Delivered rows not deleted yet.
    private let delivered = Mutex(DeliveredRows())
    private let stopGrace: Duration
    private let logger: Logger
    private let wakeup: Wakeup
    /// Rows this process's writers hand over after they commit, published without a read.
    package let handoff: OutboxHandoff
    private let breakers: ParticipantBreakers?
    private let counters: RelayCounters
    /// Whether the outbox holds the mirror's ranges of saga events (the orchestrator's does).
    private let expandsSagaEvents: Bool

    /// Creates a relay.
    ///
    /// - Parameters:
    ///   - postgresURL: for the lane-owning session and the LISTEN connection.
    ///   - pool: connections for reading and deleting rows.
    ///   - producer: publishes the commands.
    ///   - batchSize: rows published per round.
    ///   - pollInterval: how often to look when no notification arrives.
    ///   - forgetDelay: how long rows Kafka took may wait to be deleted with later ones, in one
    ///     transaction (``DeliveredRows``); `.zero` deletes each round's rows at its end.
    ///   - stopGrace: how long a graceful stop waits for Kafka to take the round in flight
    ///     before giving up on it (``KafkaProducer/abandonUndelivered()``); its rows stay in the
    ///     outbox for the next relay.
    ///   - expandsSagaEvents: whether the outbox is the orchestrator's, whose rows may name
    ///     ranges of `saga_events` to publish (the saga-event mirror, `0006_event_ranges.sql`).
    ///     A service's outbox has no saga events.
    public init(
        postgresURL: String,
        pool: PostgresPool,
        producer: KafkaProducer,
        batchSize: Int = 1_000,
        pollInterval: Duration = .milliseconds(250),
        forgetDelay: Duration = .milliseconds(100),
        stopGrace: Duration = .seconds(5),
        metrics: OrchestratorMetrics = OrchestratorMetrics(),
        logger: Logger = Logger(label: "skald.outbox-relay"),
        breakers: ParticipantBreakers? = nil,
        expandsSagaEvents: Bool = false
    ) {
        self.expandsSagaEvents = expandsSagaEvents
        self.breakers = breakers
        self.postgresURL = postgresURL
        self.pool = pool
        self.producer = producer
        self.batchSize = max(1, batchSize)
        self.pollInterval = pollInterval
        self.forgetDelay = max(.zero, forgetDelay)
        self.stopGrace = stopGrace
        self.counters = RelayCounters(metrics: metrics)
        self.logger = logger
        let wakeup = Wakeup()
        self.wakeup = wakeup
        // Four rounds' worth: past it the relay is behind (Kafka slow or gone), and rows wait
        // in the outbox, which is where a relay that falls behind reads them anyway.
        handoff = OutboxHandoff(capacity: 4 * self.batchSize, wakeup: wakeup)
    }

    /// Wakes the relay to read the outbox now: a writer in this process committed rows it did
    /// not hand over (``OutboxHandoff``).
    public func wake() {
        handoff.announceRowsInDatabase()
    }

    /// Relays until graceful shutdown; the rows in hand are published before it returns,
    /// unless Kafka has not taken them within the stop grace (``StopGrace``): then their rows
    /// stay in the outbox for the next relay.
    public func run() async throws {
        let stopGrace = StopGrace(producer: producer, grace: self.stopGrace, logger: logger)
        try await withGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Bool.self) { group in
                group.addTask { await self.listenForNotifications(); return false }
                group.addTask { await stopGrace.watch(); return false }
                group.addTask {
                    defer { stopGrace.finish() }
                    try await self.relayLoop()
                    return true
                }
                // The relay loop's end ends the others; theirs does not end it.
                while let relayLoopEnded = try await group.next(), !relayLoopEnded {}
                group.cancelAll()
            }
        } onGracefulShutdown: {
            self.wakeup.ring()
        }
    }

    private func relayLoop() async throws {
        var lanes = LaneOwnership(postgresURL: postgresURL, logger: logger)
        defer { lanes.release() }
        defer { handoff.ownership([]) }
        let clock = ContinuousClock()
        var nextOwnershipCheck = clock.now
        // The outbox is read at least this often, whatever the hand-over knows: rows of other
        // processes that no notification announced are found as before.
        var nextRead = clock.now
        // Whether the last round left messages undelivered: Kafka unreachable, most likely.
        var undelivered = false
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            if clock.now >= nextOwnershipCheck {
                // Before lanes can change hands: their next owner reads the outbox, and would
                // publish again what this relay delivered and has not deleted. While the delete
                // fails (Postgres unreachable, most likely), the lanes stay as they are.
                if await forgetDeliveredLogging() {
                    await lanes.refresh()
                    handoff.ownership(lanes.owned)
                }
                nextOwnershipCheck = clock.now.advanced(by: .seconds(2))
            }
            var published = 0
            if !lanes.owned.isEmpty {
                do {
                    let pollDue = clock.now >= nextRead
                    if pollDue { nextRead = clock.now.advanced(by: pollInterval) }
                    let round = try await relayRound(lanes: lanes.owned, pollDue: pollDue)
                    published = round.forgotten
                    undelivered = round.undelivered > 0
                } catch {
                    logger.warning("outbox relay round failed; retrying", metadata: ["error": "\(error)"])
                    try? await Task.sleep(for: .milliseconds(200))
                }
            }
            // Rows handed over while a round was out go in the next one at once.
            if published == 0 || (published < batchSize && !handoff.hasHandedRows) {
                let waiting = PhaseProfile.shared.start()
                defer { PhaseProfile.shared.record("relay.idle", since: waiting) }
                var timeout = lanes.owned.isEmpty ? Duration.seconds(1) : pollInterval
                if let due = delivered.withLock({ $0.dueAt(delay: forgetDelay) }) {
                    timeout = min(timeout, max(.zero, due - clock.now))
                }
                await wakeup.wait(timeout: timeout)
            }
            if delivered.withLock({ $0.isDue(at: clock.now, delay: forgetDelay, limit: batchSize) }) {
                _ = await forgetDeliveredLogging()
            }
        }
        // One last round so what was committed before the shutdown leaves now; not when Kafka
        // did not take the last one, whose rows it would read again and wait for as long
        // (`message.timeout.ms`, 60 s): a stop then took two minutes. The rows stay for the
        // next relay.
        if undelivered {
            logger.notice("no last round: Kafka did not take the previous one; the rows stay in the outbox")
        } else if !lanes.owned.isEmpty && !Task.isCancelled {
            _ = try? await relayRound(lanes: lanes.owned, pollDue: true)
        }
        _ = await forgetDeliveredLogging(pausingAfterFailure: false)
    }

    /// Deletes the delivered rows that wait (``DeliveredRows``). If the delete fails they
    /// wait on, for the next try, and the error is thrown.
    func forgetDelivered() async throws {
        let (ids, oldestAt) = delivered.withLock { $0.take() }
        guard !ids.isEmpty else { return }
        do {
            try await forget(ids, resuming: [])
        } catch {
            delivered.withLock { $0.putBack(ids, deliveredAt: oldestAt) }
            throw error
        }
    }

    /// ``forgetDelivered()`` for the loop, which carries on when Postgres does not answer: the
    /// rows wait, and should the process end first, the next relay publishes them again.
    ///
    /// A failure pauses the loop as a failed round does: the rows stay due, and without the
    /// pause an idle relay would retry at once, again and again, while Postgres is down.
    /// - Returns: whether nothing is left waiting.
    private func forgetDeliveredLogging(pausingAfterFailure: Bool = true) async -> Bool {
        do {
            try await forgetDelivered()
            return true
        } catch {
            logger.warning("could not delete delivered outbox rows; retrying later", metadata: ["error": "\(error)"])
            if pausingAfterFailure { try? await Task.sleep(for: .milliseconds(200)) }
            return false
        }
    }

    /// Deletes rows `ids` and moves the ranges of `resume` on to their first undelivered event,
    /// in one transaction.
    private func forget(_ ids: [Int64], resuming resume: [(row: Int64, firstSequence: Int)]) async throws {
        var statements: [PostgresQuery] = []
        if !ids.isEmpty {
            // `id = ANY(array)` is one index probe per id. The `IN (SELECT json_array_elements…)`
            // form before let the planner choose a merge join that walked the primary key from
            // the oldest id through every dead row the deletes leave behind: now and then a
            // round took seconds, and whole benchmark runs dropped to a fifth of their speed.
            let idList = "{" + ids.map(String.init).joined(separator: ",") + "}"
            statements.append(PostgresQuery(PumpStatements.forgetSent, [PostgresValue(idList)]))
        }
        if !resume.isEmpty {
            let idList = "{" + resume.map { String($0.row) }.joined(separator: ",") + "}"
            let sequenceList = "{" + resume.map { String($0.firstSequence) }.joined(separator: ",") + "}"
            statements.append(
                PostgresQuery(PumpStatements.resumeRanges, [PostgresValue(idList), PostgresValue(sequenceList)]))
        }
        guard !statements.isEmpty else { return }
        _ = try await pool.withConnection { connection in
            // Forgetting sent rows need not wait for the WAL flush: should a crash lose this
            // commit, the rows go out again and the consumers' inboxes drop the copies. The
            // relay's round gets shorter by a flush (~2 ms), and the disk does one less.
            try await connection.pipelineTransactionDiscardingRows(
                [PostgresQuery(PumpStatements.forgetSentSetting)] + statements)
        }
    }

    /// What one round did.
    struct Round {
        /// Rows done with: delivered (deleted now or with later rounds' rows) or dropped.
        var forgotten = 0
        /// Messages Kafka did not take.
        var undelivered = 0
    }

    /// Publishes up to one batch of the owned lanes and deletes what was delivered; returns
    /// how many rows left the outbox.
    func relayOnce(lanes: [Int]) async throws -> Int {
        let forgotten = try await relayRound(lanes: lanes).forgotten
        try await forgetDelivered()
        return forgotten
    }

    /// Publishes up to one batch of the owned lanes: the rows handed over
    /// (``OutboxHandoff``), and those read from the outbox when it may hold others.
    ///
    /// - Parameter pollDue: the polling interval has passed since the outbox was last read;
    ///   the round reads it whatever the hand-over knows.
    func relayRound(lanes: [Int], pollDue: Bool = true) async throws -> Round {
        let profile = PhaseProfile.shared
        var phase = profile.start()
        // Commands to a participant whose circuit is open wait in the outbox; a half-open
        // one gets only its few probes (its oldest rows, so per-saga order holds), read
        // apart so that its backlog cannot crowd the other topics out of the batch.
        // Kafka topic names are [a-zA-Z0-9._-]: quoted, they make a valid array literal.
        let (blocked, probes) = breakers?.allowances() ?? ([], [:])
        let held = blocked + probes.keys
        let plan = handoff.planRound(limit: batchSize, heldTopics: Set(held), pollDue: pollDue)
        if plan.readsDatabase {
            // A read would find the rows delivered and not deleted yet, and publish them again.
            do {
                try await forgetDelivered()
            } catch {
                handoff.finishRound(published: [], readIds: [], failed: true)
                throw error
            }
        }
        var rows: [PostgresRow] = []
        // The last id of a read that stopped at its limit: rows past it are unread.
        var readWasCutAt: Int64?
        if plan.readsDatabase {
            // The lanes as an array, `lane = ANY(array)`: a filter on the primary key's walk in id
            // order (`PumpStatements.readOutbox`).
            // The mirror's range rows sit in each lane's twin, `lane + laneCount`, which relays of
            // earlier versions do not read (`0006_event_ranges.sql`).
            let readLanes = expandsSagaEvents ? lanes + lanes.map { $0 + Self.laneCount } : lanes
            let laneList = "{" + readLanes.map(String.init).joined(separator: ",") + "}"
            let heldList = "{" + held.map { "\"\($0)\"" }.joined(separator: ",") + "}"
            // Rows handed over are in the outbox too; the read need not send them back. (Those
            // past a read cut off by its limit stay unpublished this round all the same.)
            let heldIds = "{" + plan.handed.map { String($0.id) }.joined(separator: ",") + "}"
            let (probeRows, mainRows) = try await pool.withConnection { connection in
                var probeRows: [PostgresRow] = []
                for (topic, budget) in probes where budget > 0 {
                    probeRows += try await connection.query(
                        PostgresQuery(
                            PumpStatements.readOutboxProbes,
                            [PostgresValue(laneList), PostgresValue(topic), PostgresValue(budget)]))
                }
                let mainRows = Array(try await connection.query(
                    PostgresQuery(
                        expandsSagaEvents ? PumpStatements.readOutboxWithEvents : PumpStatements.readOutbox,
                        [PostgresValue(laneList), PostgresValue(heldList), PostgresValue(batchSize), PostgresValue(heldIds)])))
                return (probeRows, mainRows)
            }
            // A range row gives one result row per event, consecutively: the limit counts rows.
            var distinct = 0
            var lastId: Int64?
            for row in mainRows {
                let id = try row.decode(Int64.self, at: 0)
                if id != lastId { distinct += 1 }
                lastId = id
            }
            if distinct >= batchSize { readWasCutAt = lastId }
            rows = probeRows + mainRows
        }
        profile.record("relay.select", since: phase, size: rows.count)
        let handed = handoff.publishable(plan, readWasCutAt: readWasCutAt)
        if rows.isEmpty && handed.isEmpty { return Round() }
        phase = profile.start()
        // Rows read and rows handed over, merged in id order: each saga's in the order written.
        // A row both handed over and read is published once, as handed.
        let handedIds = Set(handed.map(\.id))
        var entries: [(id: Int64, handed: OutboxHandoff.Row?, read: [OutboxRound.Item])] = handed.map { ($0.id, $0, []) }
        var readIds: [Int64] = []
        var range: (row: Int64, attributes: SagaEventMirror.Range?)?
        for row in rows {
            let id = try row.decode(Int64.self, at: 0)
            if handedIds.contains(id) { continue }
            let topic = try row.decode(String.self, at: 1)
            // Key, headers and payload go on as bytes: the columns are NOT NULL, and `json` keeps
            // the text Skald wrote byte for byte.
            let headers = try HeaderPairs.parse(try row.textBytes(at: 3) ?? [])
            if entries.last?.id != id || entries.last?.handed != nil {
                entries.append((id, nil, []))
                readIds.append(id)
            }
            if row.columnCount > 5, try row.decode(Bool.self, at: 5) {
                if range?.row != id { range = (id, SagaEventMirror.Range(headers: headers)) }
                // Events missing from the log, or a row without the saga's type and version: only
                // a hand-edited store has them. Nothing can be published; the events, if any, are
                // still in `saga_events` for the projections, which read them from there.
                guard let attributes = range?.attributes, !row.isNull(at: 6) else {
                    if !entries[entries.count - 1].read.contains(where: \.isDropped) {
                        entries[entries.count - 1].read.append(.dropped)
                        logger.error(
                            "outbox row of saga events cannot be published (events missing from the log, or no saga type and version); dropped",
                            metadata: ["id": "\(id)"])
                    }
                    continue
                }
                let sequence = try row.decode(Int.self, at: 6)
                entries[entries.count - 1].read.append(
                    .message(
                        SagaEventMirror.message(
                            topic: topic, sagaId: try row.decode(String.self, at: 2), range: attributes,
                            sequence: sequence, eventType: try row.decode(String.self, at: 7),
                            microseconds: try row.decode(Int64.self, at: 8), body: try row.textBytes(at: 9) ?? []),
                        sequence: sequence))
                continue
            }
            if probes[topic] != nil { breakers?.spend(1, topic: topic) }
            entries[entries.count - 1].read.append(
                .message(
                    KafkaOutgoingMessage(
                        topic: topic,
                        key: try row.textBytes(at: 2) ?? [],
                        value: try row.textBytes(at: 4) ?? [],
                        headers: headers
                    ),
                    sequence: nil))
        }
        // Probes are read apart from the rest: sorting (stable) puts every row in its place.
        entries.sort { $0.id < $1.id }
        var round = OutboxRound(capacity: entries.count)
        for entry in entries {
            if let handedRow = entry.handed {
                round.append(handedRow.message, row: entry.id)
                continue
            }
            for item in entry.read {
                switch item {
                case .dropped: _ = round.dropping(row: entry.id)
                case .message(let message, let sequence?): round.append(message, row: entry.id, sequence: sequence)
                case .message(let message, nil): round.append(message, row: entry.id)
                }
            }
        }
        profile.record("relay.decode", since: phase, size: entries.count)

        phase = profile.start()
        var messages = round.messages
        let spans = PublishSpans(publishing: &messages)
        let results: [Result<KafkaDeliveryReport, KafkaError>]
        do {
            results = try await producer.send(messages)
        } catch {
            spans.end(failing: error)
            // The handed rows are in the outbox too: the next round reads them from there.
            handoff.finishRound(published: handed.map(\.id), readIds: [], failed: true)
            throw error
        }
        spans.end(with: results)
        profile.record("relay.produce", since: phase, size: messages.count)
        phase = profile.start()
        // A row is forgotten once every message it gave was delivered; otherwise it stays, and a
        // range goes on from its first event that failed.
        var reported: Set<Int64> = []
        for (index, result) in results.enumerated() {
            if case .failure(let error) = result, reported.insert(round.row(of: index)).inserted {
                logger.warning("outbox row not delivered", metadata: ["id": "\(round.row(of: index))", "error": "\(error)"])
            }
        }
        let settlement = round.settle(results.map { if case .success = $0 { true } else { false } })
        let now = ContinuousClock.now
        let forgetting: (ids: [Int64], oldestAt: ContinuousClock.Instant?) = delivered.withLock { waiting in
            waiting.add(settlement.forget, at: now)
            // Ranges to resume go at once, and the waiting rows with them.
            guard !settlement.resume.isEmpty || waiting.isDue(at: now, delay: forgetDelay, limit: batchSize) else {
                return ([], nil)
            }
            return waiting.take()
        }
        if !forgetting.ids.isEmpty || !settlement.resume.isEmpty {
            do {
                try await forget(forgetting.ids, resuming: settlement.resume)
            } catch {
                // The rows wait for the next try. Ranges to resume are read again from the
                // outbox, which still says where they stood, and go out again from there.
                // The round's messages did go out: its read rows count as read, so that a row
                // handed over late is not published again.
                delivered.withLock { $0.putBack(forgetting.ids, deliveredAt: forgetting.oldestAt) }
                handoff.finishRound(published: handed.map(\.id), readIds: readIds, failed: true)
                throw error
            }
        }
        profile.record("relay.delete", since: phase, size: forgetting.ids.count)
        handoff.finishRound(published: handed.map(\.id), readIds: readIds, failed: settlement.failed > 0)
        counters.published(settlement.delivered, failed: settlement.failed)
        return Round(forgotten: settlement.forget.count, undelivered: settlement.failed)
    }

    private func listenForNotifications() async {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                let channel = try await pool.withConnection { connection in
                    try await connection.query(PostgresQuery("SELECT " + Self.notificationChannelSQL)).first?.decode(String.self, at: 0)
                }
                guard let channel else { throw PostgresError(code: .query, message: "the session has no current schema") }
                let listener = try await PostgresListener.connect(to: postgresURL, channels: [channel])
                defer { listener.stop() }
                for try await _ in listener.notifications {
                    handoff.announceRowsInDatabase()
                }
            } catch {
                logger.debug("outbox LISTEN connection lost; polling until it is back", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// The lane of a saga: a stable hash of its id (FNV-1a), the same in every process.
    public static func lane(ofSaga sagaId: String) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in sagaId.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return Int(hash % UInt64(laneCount))
    }
}
