import Foundation
import Skald
import SkaldKafka
import SkaldPostgres
import SkaldRuntime
import SkaldTestSupport
import Synchronization
import Testing

/// A read model of transfers that makes a second application of any event fail loudly: every
/// event goes into `transfer_event_log`, whose primary key is the saga id and sequence.
final class TransferBoard: SagaProjection {
    let name = "transfer-board"
    let sagaTypes = ["Transfer"]
    /// How a refused event fails: thrown from Swift, or a statement Postgres rejects in the middle of the batch.
    enum Refusal: Sendable {
        case swift
        case sql
    }
    /// Event types it refuses to apply while set (a projection with a bug, then fixed).
    private let refused = Mutex<(types: Set<String>, how: Refusal)>(([], .swift))
    /// How long a rebuild's reset takes (to hold the rebuild's lock while sagas run).
    let resetDelay: Double

    init(resetDelay: Double = 0) {
        self.resetDelay = resetDelay
    }

    func refuse(_ eventTypes: Set<String>, how: Refusal = .swift) {
        refused.withLock { $0 = (eventTypes, how) }
    }

    let setUp: [PostgresQuery] = [
        """
        CREATE TABLE IF NOT EXISTS transfer_board (
            saga_id text PRIMARY KEY, amount integer NOT NULL, status text NOT NULL,
            events integer NOT NULL, last_sequence integer NOT NULL)
        """,
        """
        CREATE TABLE IF NOT EXISTS transfer_event_log (
            saga_id text NOT NULL, sequence integer NOT NULL, event_type text NOT NULL,
            applied bigserial, PRIMARY KEY (saga_id, sequence))
        """,
    ]

    var reset: [PostgresQuery] {
        ["DELETE FROM transfer_board", "DELETE FROM transfer_event_log", "SELECT pg_sleep(\(resetDelay))"]
    }

    struct Refused: Error, CustomStringConvertible {
        var description: String
    }

    func statements(for projected: ProjectedEvent) throws -> [PostgresQuery] {
        let type = projected.eventType
        let id = projected.sagaId
        let sequence = projected.event.sequence
        var statements: [PostgresQuery] = [
            "INSERT INTO transfer_event_log (saga_id, sequence, event_type) VALUES (\(id), \(sequence), \(type))"
        ]
        let refusal = refused.withLock { $0.types.contains(type) ? $0.how : nil }
        switch refusal {
        case .swift?: throw Refused(description: "refusing \(type) on purpose")
        // After this event's own insert, and others of the batch before it: all must roll back.
        case .sql?: return statements + ["SELECT 1 / 0 AS refusing_on_purpose"]
        case nil: break
        }
        switch projected.event.kind {
        case .started(_, let state, _):
            // Typed: the registry that runs the projection knows the Transfer definition.
            let transfer = try state.decode(TransferState.self)
            statements.append(
                """
                INSERT INTO transfer_board (saga_id, amount, status, events, last_sequence)
                VALUES (\(id), \(transfer.amount), 'running', 1, \(sequence))
                """)
        case .completed, .compensated, .compensationStarted:
            let status = type == "saga.completed" ? "completed" : type == "saga.compensated" ? "compensated" : "compensating"
            statements.append(
                "UPDATE transfer_board SET status = \(status), events = events + 1, last_sequence = \(sequence) WHERE saga_id = \(id)")
        default:
            statements.append("UPDATE transfer_board SET events = events + 1, last_sequence = \(sequence) WHERE saga_id = \(id)")
        }
        return statements
    }
}

@Suite("Projections: read models from the saga events, each event once", .timeLimit(.minutes(5)))
struct ProjectionTests {
    /// Starts `count` transfers, some declined, keyed `<prefix><index>`.
    private static func startTransfers(_ orchestrator: Orchestrator, _ range: Range<Int>, prefix: String = "p") async throws {
        for index in range {
            let input = StartTransfer(
                transferId: "\(prefix)\(index)", amount: 100 + index, declineDebit: index % 10 == 3, declineCredit: index % 7 == 5)
            try await orchestrator.start("Transfer", input: input, idempotencyKey: "\(prefix)\(index)")
        }
    }

    private static func allTerminal(_ url: String) async throws -> Bool {
        try await TestPostgres.count(url, "SELECT count(*)::bigint FROM sagas WHERE status NOT IN ('completed', 'compensated')") == 0
    }

    /// Sagas whose board row is missing, behind, or says something else than the saga.
    private static func boardDisagreements(_ url: String) async throws -> Int {
        try await TestPostgres.count(
            url,
            """
            SELECT count(*)::bigint FROM sagas s LEFT JOIN transfer_board b ON b.saga_id = s.saga_id
            WHERE b.saga_id IS NULL OR b.last_sequence <> s.last_sequence OR b.events <> s.last_sequence
               OR b.status <> s.status OR b.amount <> (s.state::json ->> 'amount')::integer
            """)
    }

    /// Whether every saga's events are in the board exactly once (the log's key refuses twice).
    private static func caughtUp(_ url: String) async throws -> Bool {
        // The runner creates the tables when it starts, which may be after the first look.
        guard try await TestPostgres.count(url, "SELECT (to_regclass('transfer_event_log') IS NOT NULL)::int::bigint") == 1 else {
            return false
        }
        let events = try await TestPostgres.count(url, "SELECT count(*)::bigint FROM saga_events")
        let logged = try await TestPostgres.count(url, "SELECT count(*)::bigint FROM transfer_event_log")
        return events == logged
    }

    @Test("a running orchestrator's sagas reach the read model: every event once, in each saga's order")
    func everyEventOnce() async throws {
        let board = TransferBoard()
        try await withTransferSystem(projections: [board]) { orchestrator, url, cluster in
            try await Self.startTransfers(orchestrator, 0..<150)
            try await eventually("every saga terminal") { try await Self.allTerminal(url) }
            try await eventually("the board caught up") { try await Self.caughtUp(url) }
            #expect(try await Self.boardDisagreements(url) == 0)
            // In each saga's order: applied one after another as 1, 2, 3, … (`applied` counts applications).
            #expect(
                try await TestPostgres.count(
                    url,
                    """
                    SELECT count(*)::bigint FROM (
                        SELECT sequence, row_number() OVER (PARTITION BY saga_id ORDER BY applied) AS nth FROM transfer_event_log) x
                    WHERE sequence <> nth
                    """) == 0)

            // Copies of the mirrored messages, as a relay that crashed before deleting its rows
            // publishes them again: nothing new to apply, and no error.
            let consumerConfiguration = {
                var configuration = mockKafka(cluster)
                configuration.groupID = "copies-\(UUID().uuidString.prefix(8))"
                return configuration
            }()
            let consumer = try KafkaConsumer(configuration: consumerConfiguration, topics: ["skald.saga-events"])
            var copies: [KafkaOutgoingMessage] = []
            while copies.count < 200, let batch = try await consumer.nextBatch(maxCount: 200) {
                copies += batch.map { KafkaOutgoingMessage(topic: $0.topic, key: $0.key, value: $0.value, headers: $0.headers) }
            }
            try await consumer.close()
            let applied = try await TestPostgres.count(url, "SELECT count(*)::bigint FROM transfer_event_log")
            let beforeCopies = Date()
            let producer = try KafkaProducer(configuration: mockKafka(cluster))
            for result in try await producer.send(copies) { _ = try result.get() }
            await producer.shutdown()
            // The sagas are all finished: a batch after the copies were sent is a batch of copies.
            try await eventually("the runner took the copies") {
                (try await orchestrator.projections.status(named: "transfer-board")?.lastAppliedAt ?? .distantPast) > beforeCopies
            }
            #expect(try await TestPostgres.count(url, "SELECT count(*)::bigint FROM transfer_event_log") == applied)
            #expect(try await Self.caughtUp(url))
            let status = try #require(try await orchestrator.projections.status(named: "transfer-board"))
            #expect(status.running)
            #expect(status.lastError == nil)
            #expect(status.eventsApplied == applied)
            #expect(status.sagas == 150)
            #expect(status.lastEventAt != nil)
        }
    }

    @Test("the mirror: one CloudEvent per saga event, keyed by the saga, in sequence order")
    func mirroredEvents() async throws {
        try await withTransferSystem(projections: [TransferBoard()]) { orchestrator, url, cluster in
            try await Self.startTransfers(orchestrator, 0..<3, prefix: "m")
            try await eventually("every saga terminal") { try await Self.allTerminal(url) }
            let expected = try await TestPostgres.count(url, "SELECT count(*)::bigint FROM saga_events")
            var configuration = mockKafka(cluster)
            configuration.groupID = "mirror-\(UUID().uuidString.prefix(8))"
            let consumer = try KafkaConsumer(configuration: configuration, topics: ["skald.saga-events"])
            var messages: [KafkaMessage] = []
            while messages.count < expected, let batch = try await consumer.nextBatch(maxCount: 100) {
                messages += batch
            }
            try await consumer.close()
            #expect(messages.count == expected)
            func header(_ message: KafkaMessage, _ name: String) -> String? {
                message.headers.first(named: name).map { String(decoding: $0, as: UTF8.self) }
            }
            for sagaId in Set(messages.compactMap { header($0, "ce_sagaid") }) {
                let ofSaga = messages.filter { header($0, "ce_sagaid") == sagaId }
                #expect(Set(ofSaga.map(\.partition)).count == 1, "one saga, one partition")
                #expect(ofSaga.allSatisfy { $0.keyString == sagaId })
                let sequences = ofSaga.compactMap { header($0, "ce_sagasequence").flatMap { Int($0) } }
                #expect(sequences == Array(1...ofSaga.count), "\(sagaId) in order")
                let first = try #require(ofSaga.first)
                #expect(header(first, "ce_type") == "skald.saga.started")
                #expect(header(first, "ce_id") == "event:\(sagaId):1")
                #expect(header(first, "ce_sagatype") == "Transfer")
                #expect(header(first, "ce_specversion") == "1.0")
                // The value is the stored event, byte for byte.
                let stored = try await TestPostgres.strings(
                    url, "SELECT event::text FROM saga_events WHERE saga_id = \(sagaId) AND sequence = 1")
                #expect(stored.first == first.valueString)
                // And the time is the stored event's, to the microsecond.
                let recorded = try await TestPostgres.strings(
                    url,
                    """
                    SELECT to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
                    FROM saga_events WHERE saga_id = \(sagaId) ORDER BY sequence
                    """)
                #expect(ofSaga.map { header($0, "ce_time") } == recorded)
                #expect(ofSaga.allSatisfy { header($0, "ce_sagaversion") == "1" })
            }
        }
    }

    @Test(
        "a projection that fails holds its place, says why, and catches up once fixed; sagas go on",
        arguments: [TransferBoard.Refusal.swift, .sql])
    func failingProjection(_ how: TransferBoard.Refusal) async throws {
        let board = TransferBoard()
        board.refuse(["saga.completed"], how: how)
        try await withTransferSystem(projections: [board]) { orchestrator, url, _ in
            try await Self.startTransfers(orchestrator, 0..<40)
            try await eventually("every saga terminal, whatever the projection does") { try await Self.allTerminal(url) }
            try await eventually("the failure is reported") {
                try await orchestrator.projections.status(named: "transfer-board")?.lastError != nil
            }
            let status = try #require(try await orchestrator.projections.status(named: "transfer-board"))
            switch how {
            case .swift:
                #expect(status.lastError?.contains("refusing saga.completed on purpose") == true, "\(status)")
                #expect(status.lastError?.contains("saga Transfer-p") == true, "names the saga and event")
            case .sql:
                #expect(status.lastError?.contains("division by zero") == true, "\(status)")
            }
            #expect(status.failingSince != nil)
            // Nothing of a failed batch is applied: no completion is logged, and no saga's position
            // (or log) went past the event before it, although the batch applied those before failing.
            #expect(try await TestPostgres.count(url, "SELECT count(*)::bigint FROM transfer_event_log WHERE event_type = 'saga.completed'") == 0)
            #expect(try await TestPostgres.count(url, "SELECT count(*)::bigint FROM transfer_board WHERE status = 'completed'") == 0)
            #expect(
                try await TestPostgres.count(
                    url,
                    """
                    SELECT count(*)::bigint FROM projection_positions p JOIN sagas s ON s.saga_id = p.saga_id
                    WHERE s.status = 'completed' AND p.sequence >= s.last_sequence
                    """) == 0)
            #expect(
                try await TestPostgres.count(
                    url, "SELECT count(*)::bigint FROM transfer_event_log l JOIN projection_positions p USING (saga_id) WHERE l.sequence > p.sequence"
                ) == 0, "the log and the positions commit together")

            board.refuse([])
            try await eventually("the board caught up after the fix") { try await Self.caughtUp(url) }
            #expect(try await Self.boardDisagreements(url) == 0)
            try await eventually("the failure is cleared") {
                try await orchestrator.projections.status(named: "transfer-board")?.lastError == nil
            }
        }
    }

    @Test("a rebuild, while sagas run, ends with the same read model; a damaged one is restored")
    func rebuild() async throws {
        // The reset takes four seconds: the sagas started below move while the rebuild holds its lock.
        let board = TransferBoard(resetDelay: 4)
        try await withTransferSystem(projections: [board]) { orchestrator, url, _ in
            try await Self.startTransfers(orchestrator, 0..<60)
            let started = try orchestrator.projections.startRebuild(named: "transfer-board")
            #expect(started.state == .running)
            #expect(throws: ProjectionRebuildRefusal.alreadyRunning("transfer-board")) {
                try orchestrator.projections.startRebuild(named: "transfer-board")
            }
            #expect(throws: ProjectionRebuildRefusal.unknown("nope")) {
                try orchestrator.projections.startRebuild(named: "nope")
            }
            try await Self.startTransfers(orchestrator, 60..<120)
            await orchestrator.projections.waitForRebuilds()
            let rebuilt = try #require(try await orchestrator.projections.status(named: "transfer-board")?.rebuild)
            #expect(rebuilt.state == .succeeded)
            // Sagas moved while the rebuild held its lock: their events were written in its window.
            let finished = try #require(rebuilt.finishedAt)
            #expect(
                try await TestPostgres.count(
                    url,
                    "SELECT count(*)::bigint FROM saga_events WHERE recorded_at BETWEEN \(rebuilt.startedAt) AND \(finished)") > 0)
            try await eventually("every saga terminal") { try await Self.allTerminal(url) }
            try await eventually("the board caught up") { try await Self.caughtUp(url) }
            #expect(try await Self.boardDisagreements(url) == 0)

            // Damage the read model; a rebuild (here through the store, as `skald projections
            // rebuild` does from another process) restores it whole.
            let connection = try await PostgresConnection.connect(to: url)
            _ = try await connection.execute("DELETE FROM transfer_board WHERE saga_id LIKE 'Transfer-p1%'")
            _ = try await connection.execute("UPDATE transfer_board SET status = 'completed'")
            await connection.close()
            #expect(try await Self.boardDisagreements(url) > 0)
            let progress = try await orchestrator.projections.store.rebuild(TransferBoard(), pageSize: 7)
            #expect(progress.sagas == 120)
            #expect(progress.events == (try await TestPostgres.count(url, "SELECT count(*)::bigint FROM saga_events")))
            #expect(try await Self.boardDisagreements(url) == 0)
            #expect(try await Self.caughtUp(url))
            let record = try #require(try await orchestrator.projections.store.records()["transfer-board"])
            #expect(record.rebuiltSagas == 120 && record.rebuiltEvents == progress.events)
            #expect(record.eventsApplied == progress.events)
        }
    }

    @Test("two appliers of the same sagas at once apply each event once; other saga types are left alone")
    func concurrentAppliers() async throws {
        try await withTransferSystem { orchestrator, url, _ in
            try await Self.startTransfers(orchestrator, 0..<50, prefix: "c")
            try await eventually("every saga terminal") { try await Self.allTerminal(url) }
            let ids = try await TestPostgres.strings(url, "SELECT saga_id FROM sagas")
            let store = orchestrator.projections.store
            let board = TransferBoard()
            try await store.prepare(board)
            // The positions' row locks decide who applies what.
            let results = try await withThrowingTaskGroup(of: ProjectionProgress.self) { group in
                for round in 0..<4 {
                    let batch = round % 2 == 0 ? ids : ids.reversed()
                    group.addTask { try await store.apply(board, sagaIds: batch) }
                }
                return try await group.reduce(into: [ProjectionProgress]()) { $0.append($1) }
            }
            let events = try await TestPostgres.count(url, "SELECT count(*)::bigint FROM saga_events")
            #expect(results.map(\.events).reduce(0, +) == events)
            #expect(try await Self.caughtUp(url))
            #expect(try await Self.boardDisagreements(url) == 0)

            // A projection of another saga type finds nothing to apply, and records no position.
            struct Elsewhere: SagaProjection {
                let name = "elsewhere"
                let sagaTypes = ["SomethingElse"]
                let setUp: [PostgresQuery] = []
                let reset: [PostgresQuery] = []
                func statements(for event: ProjectedEvent) throws -> [PostgresQuery] {
                    Issue.record("applied \(event.eventType) of a \(event.sagaType)")
                    return []
                }
            }
            try await store.prepare(Elsewhere())
            #expect(try await store.apply(Elsewhere(), sagaIds: ids).events == 0)
            #expect(try await store.apply(board, sagaIds: ["no-such-saga"]).events == 0)
            #expect(
                try await TestPostgres.count(url, "SELECT count(*)::bigint FROM projection_positions WHERE projection = 'elsewhere'") == 0)
        }
    }

    @Test("a runner started after the sagas ran, with no mirrored message, catches up with all of them")
    func catchUpWithoutMessages() async throws {
        // No projection here: the orchestrator mirrors nothing.
        try await withTransferSystem { orchestrator, url, cluster in
            try await Self.startTransfers(orchestrator, 0..<70, prefix: "u")
            try await eventually("every saga terminal") { try await Self.allTerminal(url) }
            #expect(try await TestPostgres.count(url, "SELECT count(*)::bigint FROM outbox WHERE topic = 'skald.saga-events'") == 0)
            let runner = try ProjectionRunner(
                projection: TransferBoard(), store: orchestrator.projections.store, kafka: mockKafka(cluster),
                logger: runtimeTestLogger)
            let running = Task { try await runner.run() }
            defer { running.cancel() }
            try await eventually("the board caught up from the store alone") { try await Self.caughtUp(url) }
            #expect(try await Self.boardDisagreements(url) == 0)
            running.cancel()
            _ = await running.result
            #expect(runner.status.running == false)
        }
    }

    @Test("projection names are checked, once each")
    func names() throws {
        struct Named: SagaProjection {
            let name: String
            let sagaTypes: [String] = []
            let setUp: [PostgresQuery] = []
            let reset: [PostgresQuery] = []
            func statements(for event: ProjectedEvent) throws -> [PostgresQuery] { [] }
        }
        // Nothing connects: the orchestrator is only built.
        let cluster = try MockCluster(brokers: 1)
        defer { cluster.shutdown() }
        let configuration = OrchestratorConfiguration(
            kafka: KafkaConfiguration(bootstrapServers: cluster.bootstrapServers), postgresURL: "postgres://127.0.0.1:1/none")
        for bad in ["", "Has Capitals", "slash/name", String(repeating: "a", count: 101)] {
            #expect(throws: SagaRuntimeError.self, "\(bad)") {
                try Orchestrator(registry: SagaRegistry(), configuration: configuration, projections: [Named(name: bad)])
            }
        }
        #expect(throws: SagaRuntimeError.self) {
            try Orchestrator(
                registry: SagaRegistry(), configuration: configuration, projections: [Named(name: "a"), Named(name: "a")])
        }
        let fine = try Orchestrator(
            registry: SagaRegistry(), configuration: configuration, projections: [Named(name: "orders.by-status_2")])
        #expect(fine.projections.runners.map(\.projection.name) == ["orders.by-status_2"])
        #expect(ProjectionRunner.groupID(of: "order-board") == "skald-projection-order-board")
    }
}
