import Foundation
import Synchronization
public import Logging
public import ServiceLifecycle
public import SkaldKafka
public import SkaldPostgres

/// Consumes replies and domain events and applies them to sagas, a batch per transaction.
///
/// For each batch: route every message (dead letters for what cannot be routed),
/// apply the rest in one ``SagaProcessor`` transaction, publish the dead letters and
/// await their delivery, then store the offsets, which the consumer's auto-commit (and
/// its final commit on close) sends to Kafka. A crash at any point re-delivers what was
/// not committed; the inbox turns the re-delivery into no-ops. Several workers run
/// batches at once, each for its own share of the partitions (see ``PumpLanes``).
public final class MessagePump: Service {
    private let consumer: KafkaConsumer
    private let producer: KafkaProducer
    private let pool: PostgresPool
    private let processor: SagaProcessor
    private let router: MessageRouter
    private let deadLetterTopic: String
    private let batchSize: Int
    private let workers: Int
    private let afterCommit: @Sendable (Bool) -> Void
    private let breakers: ParticipantBreakers?
    private let metrics: OrchestratorMetrics
    private let logger: Logger
    /// Set when a batch's dead letters could not be sent before a stop: from then on no offset
    /// is stored, so that batch (and everything after it) is read again by the next owner
    /// rather than skipped by a later batch's offsets.
    private let offsetsFrozen = Atomic<Bool>(false)

    /// Creates a pump.
    ///
    /// - Parameters:
    ///   - workers: batches in progress at once, each for its own share of the partitions
    ///     (one saga's messages always go to the same worker, in order).
    ///   - afterCommit: called after each batch commits, with whether it wrote commands
    ///     (the orchestrator wakes its relay with it).
    public init(
        consumer: KafkaConsumer,
        producer: KafkaProducer,
        pool: PostgresPool,
        processor: SagaProcessor,
        deadLetterTopic: String = "skald.dead-letter",
        batchSize: Int = 500,
        workers: Int = 2,
        metrics: OrchestratorMetrics = OrchestratorMetrics(),
        logger: Logger = Logger(label: "skald.pump"),
        breakers: ParticipantBreakers? = nil,
        afterCommit: @escaping @Sendable (Bool) -> Void = { _ in }
    ) {
        self.breakers = breakers
        self.consumer = consumer
        self.producer = producer
        self.pool = pool
        self.processor = processor
        self.router = MessageRouter(registry: processor.registry)
        self.deadLetterTopic = deadLetterTopic
        self.batchSize = max(1, batchSize)
        self.workers = max(1, workers)
        self.metrics = metrics
        self.logger = logger
        self.afterCommit = afterCommit
    }

    /// Pumps until graceful shutdown: the batches in hand are finished and their offsets
    /// stored, then the consumer commits them and leaves its group, so the partitions move
    /// to another instance at once and nothing finished here is processed again there.
    public func run() async throws {
        let lanes = PumpLanes(count: workers, batchSize: batchSize)
        // The feeder is the only part that stops at once on shutdown: the workers drain
        // what it already handed them.
        let feeder = Task { try await self.feed(lanes) }
        let outcome: Result<Void, any Error>
        do {
            try await withGracefulShutdownHandler {
                try await self.runWorkers(lanes, feeder: feeder)
            } onGracefulShutdown: {
                feeder.cancel()
            }
            try await feeder.value
            outcome = .success(())
        } catch {
            feeder.cancel()
            outcome = .failure(error)
        }
        // Commits what the workers stored and leaves the group.
        let closed = await closeConsumer()
        try outcome.get()
        try closed.get()
    }

    private func feed(_ lanes: PumpLanes) async throws {
        defer { lanes.finish() }
        while !Task.isCancelled, let batch = try await consumer.nextBatch(maxCount: batchSize) {
            if batch.isEmpty { continue }
            await lanes.feed(batch)
        }
    }

    private func runWorkers(_ lanes: PumpLanes, feeder: Task<Void, any Error>) async throws {
        try await withTaskCancellationHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<lanes.count {
                    group.addTask { try await self.work(lane: index, of: lanes, feeder: feeder) }
                }
                try await group.waitForAll()
            }
        } onCancel: {
            feeder.cancel()
        }
    }

    private func work(lane index: Int, of lanes: PumpLanes, feeder: Task<Void, any Error>) async throws {
        do {
            let profile = PhaseProfile.shared
            var waiting = profile.start()
            while let batch = await lanes.take(lane: index) {
                profile.record("pump.wait", since: waiting)
                try await handle(batch)
                waiting = profile.start()
            }
        } catch {
            feeder.cancel()
            lanes.finish()
            throw error
        }
    }

    private func closeConsumer() async -> Result<Void, KafkaError> {
        do {
            try await consumer.close()
            return .success(())
        } catch {
            return .failure(error)
        }
    }

    /// Applies one batch and commits its offsets; retries Postgres failures until they pass.
    func handle(_ batch: [KafkaMessage]) async throws {
        let clock = ContinuousClock()
        let started = clock.now
        metrics.messagesConsumed.increment(by: batch.count)
        metrics.batchSize.record(batch.count)

        var work: [SagaWork] = []
        var workMessages: [KafkaMessage] = []
        var deadLetters: [(message: KafkaMessage, reason: String)] = []
        for message in batch {
            switch router.route(message) {
            case .work(let item):
                work.append(item)
                workMessages.append(message)
                noteReply(item)
            case .deadLetter(let reason):
                deadLetters.append((message, reason))
            }
        }

        let profile = PhaseProfile.shared
        var phase = profile.start()
        var outcomes: [SagaWorkOutcome] = []
        var wroteCommands = false
        do {
            let result = try await processRetryingTransientFailures(work)
            outcomes = result.outcomes
            wroteCommands = result.wroteCommands
        } catch let error where !(error is CancellationError) {
            // Something in the batch fails for good (a value Postgres refuses, a log that no
            // longer folds). Apply the messages one by one so that only the poison ones go
            // to the dead letters and the rest of the batch, and the partition, move on.
            logger.error("saga batch fails for good; isolating the failing messages", metadata: ["error": "\(error)"])
            outcomes = []
            for item in work {
                do {
                    let single = try await processRetryingTransientFailures([item])
                    outcomes.append(single.outcomes.first ?? .unroutable(reason: "not processed"))
                    wroteCommands = wroteCommands || single.wroteCommands
                } catch let error where !(error is CancellationError) {
                    outcomes.append(.rejected(reason: "processing failed: \(error)"))
                }
            }
        }
        let result = SagaBatchResult(work: work, outcomes: outcomes, wroteCommands: wroteCommands)
        for (message, outcome) in zip(workMessages, result.outcomes) {
            switch outcome {
            case .unroutable(let reason), .rejected(let reason):
                deadLetters.append((message, reason))
            case .applied, .duplicate:
                break
            }
        }
        profile.record("pump.process", since: phase, size: batch.count)
        afterCommit(result.wroteCommands)

        if !deadLetters.isEmpty {
            metrics.deadLetters.increment(by: deadLetters.count)
            let published = try await publishDeadLetters(
                deadLetters.map { DeadLetters.message(for: $0.message, reason: $0.reason, topic: deadLetterTopic) })
            guard published else {
                // A stop with Kafka unreachable: this batch's offsets, and any later one's, stay
                // unstored, so the next owner reads it again; its sagas' work is committed, and
                // the inbox makes that part a no-op, while the dead letters are sent and recorded then.
                offsetsFrozen.store(true, ordering: .releasing)
                logger.warning(
                    "dead letters not delivered before the stop; their batch will be read again",
                    metadata: ["count": "\(deadLetters.count)"])
                return
            }
            try await recordDeadLetters(deadLetters)
        }
        phase = profile.start()
        // Only now, after the commit, may these offsets be committed to Kafka: librdkafka's
        // auto-commit (and the final commit of `close()`) commits stored offsets only.
        if !offsetsFrozen.load(ordering: .acquiring) {
            try consumer.storeOffsets(for: batch)
        }
        profile.record("pump.offsets", since: phase)
        metrics.batchDuration.record(duration: clock.now - started)
    }

    /// A saga-aware reply shows its participant is answering: it closes that participant's circuit.
    private func noteReply(_ item: SagaWork) {
        guard let breakers, case .message(let envelope, _) = item.input,
            let sagaType = envelope.sagaType, let step = envelope.sagaStep,
            let topic = (try? processor.registry.latest(name: sagaType))?.commandTopic(ofStep: step)
        else { return }
        breakers.recordReply(topic: topic)
    }

    /// Runs one transaction for `work`, retrying while Postgres is down, restarting or
    /// reports a conflict; any other failure is thrown to the caller.
    private func processRetryingTransientFailures(_ work: [SagaWork]) async throws -> SagaBatchResult {
        guard !work.isEmpty else { return SagaBatchResult(work: [], outcomes: [], wroteCommands: false) }
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await pool.withConnection { connection in
                    try await self.processor.process(work, on: connection, now: Date())
                }
            } catch let error where Self.isTransient(error) {
                // Postgres is down or restarting: keep the batch and try again; offsets stay put.
                logger.warning("saga batch failed; retrying", metadata: ["attempt": "\(attempt)", "error": "\(error)"])
                try await Task.sleep(for: .milliseconds(min(2_000, 50 * attempt)))
                try Task.checkCancellation()
            }
        }
    }

    /// Whether a failure may pass by itself: the server is unreachable, restarting, out of
    /// resources, or the transaction lost a conflict. Bad data fails the same way every time.
    static func isTransient(_ error: any Error) -> Bool {
        guard let error = error as? PostgresError else { return false }
        if error.isConnectionLost || error.isDeadlock || error.isSerializationFailure { return true }
        if error.code == .connection || error.code == .connectionLost || error.code == .closed { return true }
        guard let state = error.sqlState else { return false }
        // 08: connection, 53: insufficient resources, 57: operator intervention (shutdown), 40: conflicts.
        return state.hasPrefix("08") || state.hasPrefix("53") || state.hasPrefix("57") || state.hasPrefix("40")
    }

    /// Records the dead letters in `dead_letters` for the admin API, after they are published
    /// (the topic is the record of last resort), in statements of a few megabytes. Best effort:
    /// retried a while when Postgres is away, then, like a row Postgres refuses, logged and left
    /// out, since the topic has the message; the partition must not stall on its record.
    private func recordDeadLetters(_ letters: [(message: KafkaMessage, reason: String)]) async throws {
        var chunk: [(message: KafkaMessage, reason: String)] = []
        var bytes = 0
        for letter in letters {
            let size = letter.message.value.count + (letter.message.key?.count ?? 0) + 1_024
            if !chunk.isEmpty, bytes + size > DeadLetters.recordChunkBytes {
                try await recordDeadLetterChunk(chunk)
                chunk = []
                bytes = 0
            }
            chunk.append(letter)
            bytes += size
        }
        if !chunk.isEmpty { try await recordDeadLetterChunk(chunk) }
    }

    private func recordDeadLetterChunk(_ letters: [(message: KafkaMessage, reason: String)]) async throws {
        var attempt = 0
        while true {
            attempt += 1
            do {
                let records = DeadLetters.records(letters)
                try await pool.withConnection { connection in
                    _ = try await connection.execute(PostgresQuery(DeadLetters.recordSQL, [records.value]))
                }
                return
            } catch let error where Self.isTransient(error) && attempt < 20 {
                logger.warning("dead letters not recorded; retrying", metadata: ["attempt": "\(attempt)", "error": "\(error)"])
                try await Task.sleep(for: .milliseconds(min(2_000, 50 * attempt)))
            } catch let error where !(error is CancellationError) {
                if letters.count > 1, !Self.isTransient(error) {
                    // One of them is refused: record the others one by one.
                    for letter in letters { try await recordDeadLetterChunk([letter]) }
                } else {
                    logger.error(
                        "a dead letter cannot be recorded in dead_letters; it is in the dead-letter topic",
                        metadata: ["error": "\(error)", "topic": "\(letters.first?.message.topic ?? "")",
                                   "offset": "\(letters.first?.message.offset ?? -1)"])
                }
                return
            }
        }
    }

    /// Sends the dead letters, retrying until each is delivered; false when a stop came first
    /// (the relay gave up on the producer's deliveries, or a retry would begin after the stop).
    private func publishDeadLetters(_ messages: [KafkaOutgoingMessage]) async throws -> Bool {
        var pending = messages
        var attempt = 0
        while !pending.isEmpty {
            attempt += 1
            let results = try await producer.send(pending)
            var failed: [KafkaOutgoingMessage] = []
            for (message, result) in zip(pending, results) {
                if case .failure(let error) = result {
                    // Purged: not refused by Kafka, given up on at a stop (`OutboxRelay`).
                    if error.code == .purgedFromQueue || error.code == .purgedInFlight { return false }
                    logger.warning("dead letter not delivered; retrying", metadata: ["error": "\(error)"])
                    if error.isRetriable || message.value.isEmpty {
                        failed.append(message)
                    } else {
                        // Refused for good (too large, say): keep the headers and the reason,
                        // say why the payload is missing, and send that instead.
                        var stripped = message
                        stripped.value = []
                        stripped.headers.append(KafkaHeader(name: "skald_dlq_payload_dropped", value: error.description))
                        failed.append(stripped)
                    }
                }
            }
            pending = failed
            if !pending.isEmpty {
                // Each try can wait out message.timeout.ms: none after a stop has begun.
                if Task.isShuttingDownGracefully { return false }
                try await Task.sleep(for: .milliseconds(min(2_000, 100 * attempt)))
            }
        }
        return true
    }
}
