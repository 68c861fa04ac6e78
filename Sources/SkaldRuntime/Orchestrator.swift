import Foundation
public import Logging
public import ServiceLifecycle
public import Skald
import SkaldKafka
public import SkaldPostgres
import Synchronization
import Tracing

/// The saga orchestrator: the message pump, the outbox relay and the timer service
/// over one Postgres pool and one Kafka producer, plus the calls that start sagas
/// and let operators act on them.
///
/// ```swift
/// var registry = SagaRegistry()
/// try registry.register(placeOrder)
/// let orchestrator = try Orchestrator(registry: registry, configuration: configuration)
/// let group = ServiceGroup(services: [orchestrator], gracefulShutdownSignals: [.sigterm], logger: logger)
/// try await group.run()
/// ```
public final class Orchestrator: Service {
    /// The sagas it runs.
    public let registry: SagaRegistry
    /// Its configuration.
    public let configuration: OrchestratorConfiguration
    /// Its metrics.
    public let metrics: OrchestratorMetrics
    /// The Postgres pool it uses (exposed for the admin API's reads).
    public let pool: PostgresPool
    let producer: KafkaProducer
    let processor: SagaProcessor
    let relay: OutboxRelay
    /// The per-participant circuit breakers (commands to a participant that keeps timing out wait).
    public let breakers: ParticipantBreakers
    let timers: TimerService
    /// The projections it keeps up to date, their progress and rebuilds.
    public let projections: ProjectionCatalog
    /// Deletes expired inbox rows; nil when ``OrchestratorConfiguration/inboxRetention`` is nil.
    let pruner: InboxPruner?
    let logger: Logger
    /// Set while ``run()`` consumes (for ``isRunning``).
    let running = Atomic<Bool>(false)
    /// Reads the lag gauges of the running consumer (``sampleLag()``).
    let lagSampler = Mutex<LagSampler?>(nil)

    /// Creates the parts; nothing connects until ``run()``.
    ///
    /// - Throws: ``KafkaError`` for a bad Kafka property; ``SagaRuntimeError`` when
    ///   `enable.auto.commit` is turned off (see below) or the inbox retention is not positive.
    ///
    /// - Parameter projections: read models to keep up to date from the saga events; with any,
    ///   the events are mirrored to ``OrchestratorConfiguration/sagaEventsTopic`` unless
    ///   ``OrchestratorConfiguration/publishSagaEvents`` says otherwise.
    public init(
        registry: SagaRegistry,
        configuration: OrchestratorConfiguration,
        projections: [any SagaProjection] = [],
        metrics: OrchestratorMetrics = OrchestratorMetrics(),
        logger: Logger = Logger(label: "skald.orchestrator")
    ) throws {
        try ProjectionName.validate(projections)
        // The pump stores each batch's offsets after its Postgres commit and librdkafka's
        // auto-commit sends them. Turned off, nothing would be committed until shutdown, and
        // after a crash the group would consume again everything since it started: not
        // wrong (the inbox drops the copies) but a restart that can take hours.
        if let autoCommit = configuration.kafka.properties["enable.auto.commit"], autoCommit.lowercased() != "true" {
            throw SagaRuntimeError(
                "enable.auto.commit=\(autoCommit) is not supported: the orchestrator commits the offsets it stores "
                    + "after each Postgres commit through librdkafka's auto-commit; tune auto.commit.interval.ms instead")
        }
        self.registry = registry
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
        pool = PostgresPool(
            url: configuration.postgresURL, minimumConnections: 1,
            maximumConnections: configuration.poolSize + projections.count,
            sessionSetup: PumpStatements.sessionSetup,
            logger: logger
        )
        var producerConfiguration = configuration.kafka
        if producerConfiguration.clientID == nil { producerConfiguration.clientID = "skald-orchestrator" }
        producer = try KafkaProducer(configuration: producerConfiguration, logger: logger)
        breakers = ParticipantBreakers(policy: configuration.circuitBreaker, logger: logger)
        relay = OutboxRelay(
            postgresURL: configuration.postgresURL, pool: pool, producer: producer,
            batchSize: configuration.relayBatchSize, pollInterval: configuration.relayPollInterval,
            forgetDelay: configuration.relayForgetDelay,
            stopGrace: configuration.stopGrace,
            metrics: metrics, logger: logger, breakers: breakers, expandsSagaEvents: true
        )
        // The processor hands the relay what it commits, or announces it (`OutboxHandoff`):
        // the pump, the timers and the operators' commands need not wake the relay themselves.
        processor = SagaProcessor(
            registry: registry, cacheCapacity: configuration.instanceCacheCapacity,
            sagaEventsTopic: (configuration.publishSagaEvents ?? !projections.isEmpty) ? configuration.sagaEventsTopic : nil,
            metrics: metrics, logger: logger, handoff: relay.handoff
        )
        timers = TimerService(
            pool: pool, processor: processor, pollInterval: configuration.timerPollInterval, metrics: metrics,
            logger: logger, breakers: breakers
        )
        let store = ProjectionStore(pool: pool, registry: registry)
        self.projections = ProjectionCatalog(
            store: store,
            runners: try projections.map { projection in
                try ProjectionRunner(
                    projection: projection, store: store, kafka: configuration.kafka, topic: configuration.sagaEventsTopic,
                    batchSize: configuration.projectionBatchSize, logger: logger)
            },
            logger: logger)
        if let retention = configuration.inboxRetention {
            pruner = try InboxPruner(
                pool: pool, retention: retention, interval: configuration.inboxPruneInterval, logger: logger)
        } else {
            pruner = nil
        }
    }

    /// Runs the pump, the relay and the timers until graceful shutdown (or until one fails).
    ///
    /// On SIGTERM the pump finishes and commits the batch in hand and leaves its
    /// consumer group, the relay publishes what is committed, and the producer flushes.
    public func run() async throws {
        try await pool.warmUp()
        var consumerConfiguration = configuration.kafka
        if consumerConfiguration.groupID == nil { consumerConfiguration.groupID = configuration.groupID }
        // The pump stores offsets after each Postgres commit and lets the auto-commit send them.
        consumerConfiguration.commitStoredOffsetsAutomatically()
        let topics = registry.topics
        guard !topics.isEmpty else {
            throw SagaRuntimeError("no saga is registered, so there is nothing to consume")
        }
        let consumer = try KafkaConsumer(configuration: consumerConfiguration, topics: topics, logger: logger)
        let pump = MessagePump(
            consumer: consumer, producer: producer, pool: pool, processor: processor,
            deadLetterTopic: configuration.deadLetterTopic, batchSize: configuration.pumpBatchSize,
            workers: configuration.pumpWorkers, metrics: metrics, logger: logger, breakers: breakers
        )
        logger.info("orchestrator running", metadata: ["topics": "\(topics)", "sagas": "\(registry.all.map(\.name))"])
        let sampler = LagSampler(
            pool: pool, consumer: consumer, metrics: metrics, logger: logger,
            sagaTypes: Set(registry.all.map(\.name)).sorted(), stuckAfter: configuration.stuckAfter)
        lagSampler.withLock { $0 = sampler }
        running.store(true, ordering: .releasing)
        defer {
            running.store(false, ordering: .releasing)
            lagSampler.withLock { $0 = nil }
            logger.info("orchestrator stopped")
        }
        // The pump's dead letters share the producer with the relay: a stop with Kafka gone
        // gives them the same grace (the relay watches its own rounds).
        let stopGrace = StopGrace(producer: producer, grace: configuration.stopGrace, logger: logger)
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await stopGrace.watch() }
            group.addTask {
                defer { stopGrace.finish() }
                try await pump.run()
            }
            group.addTask { try await self.relay.run() }
            group.addTask { try await self.timers.run() }
            if let pruner = self.pruner { group.addTask { try await pruner.run() } }
            for runner in self.projections.runners { group.addTask { try await runner.run() } }
        }
        await projections.stopRebuilds()
        await producer.shutdown()
        await pool.close()
    }

    /// Starts a saga of type `sagaType` with `input`, once per `idempotencyKey`.
    ///
    /// - Returns: the saga id; the same key returns the same id and starts nothing new.
    /// - Throws: ``SagaRuntimeError`` when the type is unknown or does not take this input.
    @discardableResult
    public func start<Input: SagaMessage>(
        _ sagaType: String, input: Input, idempotencyKey: String? = nil, traceparent: String? = nil
    ) async throws -> String {
        // Skald's canonical JSON: cheaper than `JSONEncoder`, and dates as the text services write.
        let payload = try SkaldJSON.encode(input)
        return try await start(
            sagaType, messageType: Input.messageType, payload: payload, idempotencyKey: idempotencyKey,
            traceparent: traceparent
        )
    }

    /// Starts a saga from a JSON payload (what the admin API receives).
    ///
    /// With a tracer bootstrapped this is a `saga.start` span, a child of `traceparent`
    /// (or of the task's current context when it is absent or malformed); the saga's
    /// trace goes on from that span.
    @discardableResult
    public func start(
        _ sagaType: String, messageType: String, payload: [UInt8], idempotencyKey: String? = nil,
        traceparent: String? = nil
    ) async throws -> String {
        guard (try? registry.latest(name: sagaType)) != nil else {
            throw SagaRuntimeError("no saga type named '\(sagaType)' is registered")
        }
        let sagaId = idempotencyKey.map { "\(sagaType)-\($0)" } ?? UUID().uuidString.lowercased()
        guard let tracing = ActiveTracing.current else {
            return try await startSaga(sagaType, sagaId: sagaId, messageType: messageType, payload: payload, traceparent: traceparent)
        }
        let parent = tracing.context(traceparent: traceparent) ?? ServiceContext.current ?? .topLevel
        return try await tracing.tracer.withSpan("saga.start", context: parent, ofKind: .internal) { span in
            span.attributes[SkaldTracing.Attribute.sagaType] = sagaType
            span.attributes[SkaldTracing.Attribute.sagaId] = sagaId
            return try await startSaga(
                sagaType, sagaId: sagaId, messageType: messageType, payload: payload,
                traceparent: tracing.traceparent(of: span.context) ?? traceparent
            )
        }
    }

    private func startSaga(
        _ sagaType: String, sagaId: String, messageType: String, payload: [UInt8], traceparent: String?
    ) async throws -> String {
        let envelope = MessageEnvelope(
            id: "start:\(sagaId)", source: "skald/api", type: messageType, time: Date(), sagaId: sagaId,
            sagaType: sagaType, traceparent: traceparent
        )
        let work = SagaWork(
            target: .start(sagaType: sagaType, sagaId: sagaId, businessKey: nil),
            input: .start(envelope: envelope, payload: payload), inboxId: envelope.id, source: "api",
            traceparent: traceparent
        )
        let outcome = try await apply(work)
        switch outcome {
        case .applied(let id), .duplicate(let id?): return id
        case .duplicate(nil): return sagaId
        case .unroutable(let reason), .rejected(let reason): throw SagaRuntimeError(reason)
        }
    }

    /// Applies an operator command (abort, retry, skip) to a saga and records it in the audit log.
    ///
    /// - Returns: `.applied` when the saga acted on it; `.rejected` with the saga's reason when
    ///   it refused (the refusal is in its log as `operator.command-rejected`, like every
    ///   decision); `.unroutable` when there is no such saga.
    public func operate(sagaId: String, command: OperatorCommand) async throws -> SagaWorkOutcome {
        let before = try await pool.withConnection { connection in
            try await connection.query("SELECT last_sequence FROM sagas WHERE saga_id = \(sagaId)").first?.decode(Int.self, at: 0)
        }
        let work = SagaWork(target: .saga(id: sagaId), input: .operatorCommand(command), inboxId: nil, source: "operator")
        var outcome = try await apply(work)
        if case .applied = outcome, let before, let reason = try await refusal(of: command, sagaId: sagaId, after: before) {
            outcome = .rejected(reason: reason)
        }
        let description: String
        switch outcome {
        case .applied: description = "applied"
        case .duplicate: description = "no change"
        case .unroutable(let reason): description = reason
        case .rejected(let reason): description = "refused: \(reason)"
        }
        try await pool.withConnection { connection in
            _ = try await connection.execute(
                """
                INSERT INTO audit_log (saga_id, action, actor, reason, outcome)
                VALUES (\(sagaId), \(command.action.rawValue), \(command.actor), \(command.reason), \(description))
                """
            )
        }
        return outcome
    }

    /// The reason the saga gave for refusing `command`, if its log records a refusal after `sequence`.
    ///
    /// The event body is cast to `json` to look inside it: a store may keep it as `json` or as
    /// `text` (``SagaDocumentColumns``).
    private func refusal(of command: OperatorCommand, sagaId: String, after sequence: Int) async throws -> String? {
        try await pool.withConnection { connection in
            try await connection.query(
                """
                SELECT event::json ->> 'reason' FROM saga_events
                WHERE saga_id = \(sagaId) AND sequence > \(sequence) AND event_type = 'operator.command-rejected'
                  AND event::json ->> 'actor' = \(command.actor) AND event::json ->> 'action' = \(command.action.rawValue)
                ORDER BY sequence LIMIT 1
                """
            ).first?.decode(String?.self, at: 0)
        }
    }

    private func apply(_ work: SagaWork) async throws -> SagaWorkOutcome {
        let result = try await pool.withConnection { connection in
            try await self.processor.process([work], on: connection, now: Date())
        }
        return result.outcomes.first ?? .unroutable(reason: "not processed")
    }
}

/// A runtime failure: a message that says what went wrong.
public struct SagaRuntimeError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public var message: String

    /// Creates an error.
    public init(_ message: String) {
        self.message = message
    }

    /// The message.
    public var description: String { message }
}
