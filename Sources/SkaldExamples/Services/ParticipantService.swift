import Foundation
public import Logging
public import Metrics
public import ServiceLifecycle
import Skald
public import SkaldKafka
public import SkaldPostgres
import SkaldRuntime

/// Runs one example service: consumes its command topic in a consumer group and answers
/// each command effectively once.
///
/// Per batch of commands, one Postgres transaction in the service's own schema: each
/// command id goes into the inbox (a re-delivered command changes nothing), the handler
/// applies it to the service's tables, and its reply goes into the outbox. Offsets are
/// stored after that transaction and sent by librdkafka's auto-commit (or, with
/// `enable.auto.commit=false`, committed after each batch); SkaldRuntime's ``OutboxRelay``,
/// run on the same schema, publishes the replies to `skald.replies`. A SIGKILL anywhere
/// loses nothing.
public final class ParticipantService<Handler: CommandHandler>: Service {
    /// The domain logic.
    public let handler: Handler
    /// Its configuration.
    public let configuration: ServiceConfiguration
    /// The schema it owns.
    public let schema: String
    /// The Postgres URL whose sessions use ``schema``.
    public let schemaURL: String
    private let pool: PostgresPool
    private let producer: KafkaProducer
    /// Whether ``run()`` shuts ``producer`` down; not when it was lent by services sharing it.
    private let ownsProducer: Bool
    private let relay: OutboxRelay
    /// Deletes expired command ids from the inbox; nil when the configuration keeps them forever.
    private let pruner: InboxPruner?
    private let metrics: ServiceMetrics
    private let logger: Logger

    /// Creates the service; nothing connects until ``run()``. Its counters report to
    /// `metricsFactory` (the bootstrapped backend by default).
    ///
    /// - Parameter producer: publishes the replies. `nil` makes one from `configuration.kafka`
    ///   that ``run()`` shuts down at its end; one passed in stays open for whoever lent it
    ///   (``SharedProducerServices``), who must keep it open until ``run()`` returns.
    /// - Throws: ``ExampleServiceError`` for a schema name that is not a plain identifier,
    ///   ``KafkaError`` for a bad Kafka property, `SagaRuntimeError` for a retention that is not positive.
    public init(
        handler: Handler, configuration: ServiceConfiguration, producer: KafkaProducer? = nil, logger: Logger? = nil,
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) throws {
        // `PostgresSearchPath.url` refuses a schema that is not a plain identifier.
        let schema = configuration.schemaPrefix + (configuration.schema ?? handler.defaultSchema)
        self.handler = handler
        self.configuration = configuration
        self.schema = schema
        self.schemaURL = try PostgresSearchPath.url(configuration.postgresURL, schema: schema)
        var logger = logger ?? Logger(label: "skald.examples.\(handler.serviceName)")
        logger[metadataKey: "service"] = "\(handler.serviceName)"
        self.logger = logger
        metrics = ServiceMetrics(service: handler.serviceName, factory: metricsFactory)
        // The orchestrator's session settings: the same kind of keyed statements on queue tables.
        pool = PostgresPool(
            url: schemaURL, minimumConnections: 1, maximumConnections: 3, sessionSetup: PumpStatements.sessionSetup,
            logger: logger)
        if let producer {
            self.producer = producer
            ownsProducer = false
        } else {
            var producerConfiguration = configuration.kafka
            if producerConfiguration.clientID == nil { producerConfiguration.clientID = "\(handler.serviceName)-service" }
            self.producer = try KafkaProducer(configuration: producerConfiguration, logger: logger)
            ownsProducer = true
        }
        relay = OutboxRelay(
            postgresURL: schemaURL, pool: pool, producer: self.producer, batchSize: 1_000,
            pollInterval: .milliseconds(100), logger: logger
        )
        if let retention = configuration.inboxRetention {
            pruner = try InboxPruner(pool: pool, retention: retention, owner: handler.serviceName, logger: logger)
        } else {
            pruner = nil
        }
    }

    /// Creates the schema and applies its migrations (each once, safe from several processes).
    public func migrate() async throws {
        try await Self.migrate(
            handler: handler, postgresURL: configuration.postgresURL, schema: schema,
            contract: configuration.appliesContractMigrations ? .apply : .onNewStore)
    }

    /// Creates `schema` in `postgresURL`'s database and applies `handler`'s migrations in it;
    /// contract migrations as `contract` says.
    public static func migrate(
        handler: Handler, postgresURL: String, schema: String,
        contract: PostgresMigrator.ContractMigrations = .onNewStore
    ) async throws {
        let connection = try await PostgresConnection.connect(to: postgresURL)
        do {
            _ = try await connection.execute("CREATE SCHEMA IF NOT EXISTS \(identifier: schema)")
        } catch let error as PostgresError where error.sqlState == "23505" || error.sqlState == "42P06" {
            // Another process created it at the same moment.
        }
        await connection.close()
        let migrator = try PostgresMigrator(migrations: try ServiceSchema.migrations(for: handler))
        try await migrator.migrate(url: try PostgresSearchPath.url(postgresURL, schema: schema), contract: contract)
    }

    /// Migrates, then consumes and relays until graceful shutdown (SIGTERM): the batch in
    /// hand is committed, the relay publishes what is committed, the producer flushes (its
    /// owner's job when the producer was lent).
    public func run() async throws {
        try await migrate()
        try await pool.warmUp()
        var consumerConfiguration = configuration.kafka
        if consumerConfiguration.groupID == nil {
            consumerConfiguration.groupID = configuration.groupID ?? "\(handler.serviceName)-service"
        }
        // Offsets are stored after each batch's Postgres commit and sent by the auto-commit, as
        // the orchestrator's pump does; the inbox absorbs what a crash re-delivers. A
        // configuration that turns auto-commit off gets a commit awaited per batch instead.
        let commitsEachBatch = ["false", "f", "0"].contains(consumerConfiguration.properties["enable.auto.commit"]?.lowercased())
        if !commitsEachBatch { consumerConfiguration.commitStoredOffsetsAutomatically() }
        let consumer = try KafkaConsumer(
            configuration: consumerConfiguration, topics: [handler.commandsTopic], logger: logger
        )
        logger.info("service running", metadata: ["schema": "\(schema)", "topic": "\(handler.commandsTopic)"])
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await self.relay.run() }
            if let pruner = self.pruner { group.addTask { try await pruner.run() } }
            group.addTask {
                try await withGracefulShutdownHandler {
                    while let batch = try await consumer.nextBatch(maxCount: self.configuration.batchSize) {
                        if batch.isEmpty { continue }
                        try await self.handle(batch)
                        do {
                            try consumer.storeOffsets(for: batch)
                        } catch let error as KafkaError where error.code == .invalidState {
                            // A graceful stop closed the consumer while this batch was being
                            // committed. Its commands are in Postgres; whoever reads them again
                            // finds them in the inbox.
                            break
                        }
                        guard commitsEachBatch else { continue }
                        do {
                            try await consumer.commit()
                        } catch let error as KafkaError where error.isRetriable {
                            // The group is rebalancing: the offsets stay stored and go out with the
                            // next commit (or the revoke-time one); at worst a batch comes again,
                            // which the inbox absorbs.
                        }
                    }
                } onGracefulShutdown: {
                    Task { try? await consumer.close() }
                }
                try? await consumer.close()
            }
        }
        if ownsProducer { await producer.shutdown() }
        await pool.close()
        logger.info("service stopped")
    }

    /// Applies one batch in one transaction; retries while Postgres is unavailable.
    func handle(_ batch: [KafkaMessage]) async throws {
        let behaviour = configuration.behaviour
        if behaviour.delay > .zero {
            try await Task.sleep(for: behaviour.delay * batch.count)
        }
        let started = ContinuousClock.now
        try await commit(batch, behaviour: behaviour)
        metrics.batchDuration.record(duration: ContinuousClock.now - started)
    }

    /// Commits `batch` in one transaction, retrying while Postgres is unavailable.
    ///
    /// A command the data rejects (SQLSTATE class 22 or 23, or a value that cannot be sent:
    /// a bug, not an outage) must not block its partition forever: the batch is split and
    /// applied one command at a time, and a command that fails alone is recorded in the inbox
    /// unanswered, with an error log; its saga's step timeout takes over.
    ///
    /// The first try takes every command id to be new (``InboxWrite/expectingNew``); a unique
    /// violation, most likely a command delivered again, sends the batch round once more with
    /// ids the inbox holds skipped (``InboxWrite/skippingSeen``), before it counts as data
    /// the batch cannot store.
    private func commit(_ batch: [KafkaMessage], behaviour: ServiceBehaviour) async throws {
        var attempt = 0
        var inbox = InboxWrite.expectingNew
        while true {
            attempt += 1
            do {
                let (tally, replies) = try await pool.withConnection { [inbox] connection in
                    try await connection.withTransaction { connection in
                        try await self.apply(batch, on: connection, behaviour: behaviour, inbox: inbox)
                    }
                }
                replies.deliver(to: relay.handoff)
                tally.count(in: metrics)
                return
            } catch let error as PostgresError where error.sqlState == "23505" && inbox == .expectingNew {
                inbox = .skippingSeen
            } catch let error as PostgresError where Self.isRejectedByData(error) {
                if batch.count > 1 {
                    for message in batch { try await commit([message], behaviour: behaviour) }
                    return
                }
                try await skip(batch, because: error)
                return
            } catch {
                logger.warning("command batch failed; retrying", metadata: ["attempt": "\(attempt)", "error": "\(error)"])
                try await Task.sleep(for: .milliseconds(min(2_000, 50 * attempt)))
                try Task.checkCancellation()
            }
        }
    }

    /// Whether `error` says the batch's data cannot be stored, rather than that Postgres is
    /// unavailable: a value the connection cannot send (a NUL in text), or SQLSTATE class 22
    /// (data exception) or 23 (integrity constraint violation).
    static func isRejectedByData(_ error: PostgresError) -> Bool {
        if error.code == .unencodableValue { return true }
        guard let state = error.sqlState else { return false }
        return state.hasPrefix("22") || state.hasPrefix("23")
    }

    private func skip(_ batch: [KafkaMessage], because error: PostgresError) async throws {
        for message in batch {
            guard let envelope = try? MessageEnvelope(kafkaHeaders: message.headers) else {
                continue
            }
            metrics.rejected.increment()
            do {
                try await pool.withConnection { connection in
                    _ = try await connection.execute(
                        "INSERT INTO inbox (message_id) VALUES (\(envelope.id)) ON CONFLICT DO NOTHING"
                    )
                }
                logger.error(
                    "command rejected by the data; recorded unanswered",
                    metadata: ["id": "\(envelope.id)", "type": "\(envelope.type)", "error": "\(error)"]
                )
            } catch let idError as PostgresError where idError.code == .unencodableValue {
                // An id Postgres cannot hold (a NUL in it) cannot be deduplicated either; each
                // delivery of it is skipped the same way.
                logger.error(
                    "command rejected by the data; its id cannot be stored, skipped unanswered",
                    metadata: ["type": "\(envelope.type)", "error": "\(error)"]
                )
            }
        }
    }

    /// How ``apply(_:on:behaviour:inbox:)`` records command ids in the inbox.
    enum InboxWrite: Sendable, Equatable {
        /// A plain insert: an id the inbox holds fails the transaction (unique violation).
        ///
        /// Almost every command arrives once, and `ON CONFLICT DO NOTHING RETURNING` cost each
        /// of them a probe of the key before the insert, a speculative insertion and a WAL
        /// record to confirm it (docs/benchmarks-e2e.md, session 16).
        case expectingNew
        /// `ON CONFLICT DO NOTHING RETURNING`: the ids the inbox holds are skipped.
        case skippingSeen
    }

    /// What became of a batch's commands, counted once its transaction commits: a batch that
    /// goes round again counts only the round that committed.
    struct BatchTally: Sendable {
        var applied = 0
        var duplicates = 0
        var unreadable = 0

        func count(in metrics: ServiceMetrics) {
            if applied > 0 { metrics.applied.increment(by: applied) }
            if duplicates > 0 { metrics.duplicates.increment(by: duplicates) }
            if unreadable > 0 { metrics.unreadable.increment(by: unreadable) }
        }
    }

    /// Records the batch's command ids in the inbox (one statement), hands the new ones to the
    /// handler as one batch, and writes their replies to the outbox (one statement).
    ///
    /// Isolated to the connection, the whole batch runs on the connection's thread: each
    /// statement is a plain call, where hopping from the cooperative pool to that thread and
    /// back for each one cost more CPU (context switches) than the statements themselves.
    private func apply(
        _ batch: [KafkaMessage], on connection: isolated PostgresConnection, behaviour: ServiceBehaviour,
        inbox: InboxWrite
    ) async throws -> (BatchTally, PendingHandoff) {
        var tally = BatchTally()
        var commands: [(message: KafkaMessage, envelope: MessageEnvelope)] = []
        for message in batch {
            do {
                commands.append((message, try MessageEnvelope(kafkaHeaders: message.headers)))
            } catch {
                // Not a command anyone can answer; the orchestrator's timeout deals with its saga.
                tally.unreadable += 1
                logger.warning(
                    "skipping a message without CloudEvents headers",
                    metadata: ["partition": "\(message.partition)", "offset": "\(message.offset)", "error": "\(error)"]
                )
            }
        }
        guard !commands.isEmpty else { return (tally, .none) }
        var ids = PostgresArrayWriter(of: .text)
        for command in commands { ids.append(command.envelope.id) }
        let insert = "INSERT INTO inbox (message_id) SELECT DISTINCT unnest($1::text[])"
        var fresh: Set<String>
        switch inbox {
        case .expectingNew:
            try connection.query(PostgresQuery(insert, [ids.value]))
            fresh = Set(commands.map(\.envelope.id))
        case .skippingSeen:
            let skipping = insert + " ON CONFLICT DO NOTHING RETURNING message_id"
            fresh = Set(try connection.query(PostgresQuery(skipping, [ids.value])).decode(String.self))
        }
        var applied: [(message: KafkaMessage, command: ServiceCommand)] = []
        for (message, envelope) in commands {
            // The first delivery in the batch is applied; a duplicate (here or earlier) is not.
            guard fresh.remove(envelope.id) != nil else {
                tally.duplicates += 1
                continue
            }
            applied.append((message, ServiceCommand(envelope: envelope, payload: message.value)))
        }
        var replies: [ServiceOutbox.Row] = []
        if !applied.isEmpty {
            let outcomes = try await handler.handle(applied.map(\.command), on: connection, behaviour: behaviour)
            guard outcomes.count == applied.count else {
                throw ExampleServiceError(
                    "the \(handler.serviceName) handler answered \(outcomes.count) of \(applied.count) commands")
            }
            for ((message, command), outcome) in zip(applied, outcomes) {
                if let reply = try reply(to: command, in: message, outcome: outcome, behaviour: behaviour, tally: &tally) {
                    replies.append(reply)
                }
            }
        }
        return (tally, try ServiceOutbox.write(replies, on: connection, handingTo: relay.handoff))
    }

    /// The outbox row that answers `command`, or nil when there is none to send.
    private func reply(
        to command: ServiceCommand, in message: KafkaMessage, outcome: CommandOutcome, behaviour: ServiceBehaviour,
        tally: inout BatchTally
    ) throws -> ServiceOutbox.Row? {
        let envelope = command.envelope
        let reply: any SagaMessage
        switch outcome {
        case .unreadable(let error):
            // Recorded in the inbox unanswered; its saga's step timeout takes over.
            tally.unreadable += 1
            logger.warning("skipping an unreadable command", metadata: ["id": "\(envelope.id)", "error": "\(error)"])
            return nil
        case .unknownType:
            tally.unreadable += 1
            logger.warning("no handler for command type", metadata: ["type": "\(envelope.type)"])
            return nil
        case .reply(let message):
            reply = message
        }
        tally.applied += 1
        if behaviour.silent { return nil }
        let sagaKey = envelope.sagaId ?? message.keyString ?? envelope.id
        let replyEnvelope = MessageEnvelope(
            id: "reply:\(envelope.id)", source: "//\(handler.serviceName)-service", type: type(of: reply).messageType,
            time: Date(), sagaId: envelope.sagaId, sagaType: envelope.sagaType, sagaStep: envelope.sagaStep,
            causationId: envelope.id, traceparent: envelope.traceparent
        )
        return try ServiceOutbox.Row(
            reply, envelope: replyEnvelope, topic: configuration.repliesTopic, key: message.keyString ?? sagaKey,
            laneKey: sagaKey
        )
    }
}
