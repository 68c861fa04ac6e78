public import Foundation
public import Logging
import Metrics
public import ServiceLifecycle
public import SkaldKafka
import SkaldPostgres
import Synchronization

/// Keeps one ``SagaProjection``'s read model up to date from `skald.saga-events`.
///
/// The topic only says which sagas moved: for each batch of messages the runner applies,
/// in one transaction, every event of those sagas that the projection has not applied yet,
/// read from `saga_events` after the saga's recorded position (``ProjectionStore``). Then it
/// stores the batch's offsets, which the consumer's auto-commit sends. A message delivered
/// twice finds nothing new; a crash before the offsets are committed delivers the batch
/// again, which finds nothing new either. A batch that fails is retried, with backoff, until
/// it passes: a projection never skips an event, and its status says why it is behind.
///
/// Every runner of one projection joins the consumer group `skald-projection-<name>`, so
/// several orchestrator instances share the work by partition, as the pump does.
public final class ProjectionRunner: Service {
    /// The projection it runs.
    public let projection: any SagaProjection
    let store: ProjectionStore
    private let kafka: KafkaConfiguration
    private let topic: String
    private let batchSize: Int
    private let logger: Logger
    private let applied: Counter
    private let failures: Counter
    private let lagGauge: Gauge
    private let state = Mutex(ProjectionRunnerState())
    /// The consumer while ``run()`` consumes, for ``sampleLag()``.
    private let consumer = Mutex<KafkaConsumer?>(nil)

    /// Creates a runner; nothing connects until ``run()``.
    ///
    /// - Parameters:
    ///   - kafka: the bootstrap servers and client properties; the group id is the projection's own.
    ///   - topic: the mirror of saga events (``OrchestratorConfiguration/sagaEventsTopic``).
    ///   - batchSize: messages per transaction at most.
    /// - Throws: ``SagaRuntimeError`` for a projection name that is not valid.
    public init(
        projection: any SagaProjection, store: ProjectionStore, kafka: KafkaConfiguration,
        topic: String = "skald.saga-events", batchSize: Int = 500,
        logger: Logger = Logger(label: "skald.projection")
    ) throws {
        try ProjectionName.validate(projection.name)
        self.projection = projection
        self.store = store
        self.kafka = kafka
        self.topic = topic
        self.batchSize = max(1, batchSize)
        var logger = logger
        logger[metadataKey: "projection"] = "\(projection.name)"
        self.logger = logger
        let dimensions = [("projection", projection.name)]
        applied = Counter(label: "skald_projection_events_applied_total", dimensions: dimensions)
        failures = Counter(label: "skald_projection_batch_failures_total", dimensions: dimensions)
        lagGauge = Gauge(label: "skald_projection_lag_messages", dimensions: dimensions)
    }

    /// Sets `skald_projection_lag_messages{projection}`: messages of the saga-events topic after
    /// the last batch this runner finished, over its partitions. Read at each `/metrics` scrape,
    /// as the pump's consumer lag is (``Orchestrator/sampleLag()``).
    public func sampleLag() async {
        guard let consumer = consumer.withLock({ $0 }) else { return }
        let lag = await consumer.lag()
        lagGauge.record(lag.values.reduce(0, +))
    }

    /// The consumer group of a projection's runners.
    public static func groupID(of projectionName: String) -> String {
        "skald-projection-\(projectionName)"
    }

    /// What the runner is doing now, for the admin API.
    public var status: ProjectionRunnerState {
        state.withLock { $0 }
    }

    /// Creates the read model's tables, catches up with sagas the topic will not bring (see
    /// ``ProjectionStore/catchUp(_:pageSize:)``), then applies batches until graceful shutdown;
    /// the batch in hand is finished and its offsets committed when the consumer closes.
    public func run() async throws {
        var configuration = kafka
        configuration.groupID = Self.groupID(of: projection.name)
        configuration.commitStoredOffsetsAutomatically()
        // The runner goes at Postgres's pace and, in a burst, far behind the topic, so whatever
        // the consumer may hold ahead of it fills up: with 20,000 messages in the consumer's
        // buffer (and librdkafka's 64 MB prefetch) `skald serve` held about 70 MB more with
        // 100,000 sagas in flight than without projections (docs/benchmarks-orchestrator.md,
        // session 11). It reads two headers of each message; a few batches ahead keep it busy.
        configuration.consumerBufferCapacity = min(configuration.consumerBufferCapacity, 4 * batchSize)
        let consumer = try KafkaConsumer(configuration: configuration, topics: [topic], logger: logger)
        state.withLock { $0.running = true }
        self.consumer.withLock { $0 = consumer }
        defer {
            state.withLock { $0.running = false }
            self.consumer.withLock { $0 = nil }
        }
        logger.info("projection running", metadata: ["topic": "\(topic)", "sagaTypes": "\(projection.sagaTypes)"])
        let loop = Task {
            try await self.retrying("setting up its tables") { try await self.store.prepare(self.projection) }
            let caughtUp = try await self.retrying("catching up") { try await self.store.catchUp(self.projection) }
            if caughtUp.events > 0 {
                self.applied.increment(by: caughtUp.events)
                self.logger.notice(
                    "projection caught up with sagas the topic did not bring",
                    metadata: ["sagas": "\(caughtUp.sagas)", "events": "\(caughtUp.events)"])
            }
            try await self.consume(consumer)
        }
        let outcome: Result<Void, any Error>
        do {
            try await withGracefulShutdownHandler {
                try await withTaskCancellationHandler {
                    try await loop.value
                } onCancel: {
                    loop.cancel()
                }
            } onGracefulShutdown: {
                loop.cancel()
            }
            outcome = .success(())
        } catch is CancellationError {
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        do {
            try await consumer.close()
        } catch {
            logger.warning("projection consumer did not close cleanly", metadata: ["error": "\(error)"])
        }
        try outcome.get()
    }

    private func consume(_ consumer: KafkaConsumer) async throws {
        while !Task.isCancelled, let batch = try await consumer.nextBatch(maxCount: batchSize) {
            if batch.isEmpty { continue }
            let sagaIds = sagaIds(in: batch)
            if !sagaIds.isEmpty {
                let progress = try await retrying("applying a batch") { try await self.store.apply(self.projection, sagaIds: sagaIds) }
                applied.increment(by: progress.events)
                state.withLock { $0.lastBatchAt = Date() }
            }
            try consumer.storeOffsets(for: batch)
        }
    }

    /// The sagas a batch names, of the types the projection reads.
    func sagaIds(in batch: [KafkaMessage]) -> Set<String> {
        var ids: Set<String> = []
        for message in batch {
            guard let id = message.headers.first(named: "ce_sagaid").map({ String(decoding: $0, as: UTF8.self) }),
                !id.isEmpty
            else { continue }
            if let type = message.headers.first(named: "ce_sagatype").map({ String(decoding: $0, as: UTF8.self) }),
                !projection.reads(sagaType: type)
            {
                continue
            }
            ids.insert(id)
        }
        return ids
    }

    /// Runs `body` until it passes or the task is cancelled, with backoff (200 ms doubling to
    /// 30 s). A passing conflict (a deadlock, a lock wait that timed out, Postgres restarting) is
    /// retried quietly at first; anything else, or a conflict that lasts, is logged, counted in
    /// `skald_projection_batch_failures_total` and shown as the runner's `lastError`.
    func retrying<Value>(_ what: String, _ body: () async throws -> Value) async throws -> Value {
        var attempt = 0
        while true {
            attempt += 1
            do {
                let value = try await body()
                state.withLock { $0.succeeded() }
                if attempt > 1 { logger.notice("projection going again", metadata: ["while": "\(what)", "attempts": "\(attempt)"]) }
                return value
            } catch let error where !(error is CancellationError) {
                if Self.passes(error), attempt < 5 {
                    logger.debug("projection conflict; retrying", metadata: ["while": "\(what)", "error": "\(error)"])
                } else {
                    failures.increment()
                    state.withLock { $0.failed(error, at: Date()) }
                    logger.error(
                        "projection fails; retrying until it passes (fix the projection or its data, and it catches up)",
                        metadata: ["while": "\(what)", "error": "\(error)", "attempt": "\(attempt)"])
                }
                try await Task.sleep(for: .milliseconds(min(30_000, 100 * (1 << min(attempt, 9)))))
            }
        }
    }

    /// Whether a failure may pass by itself: the pump's transient failures, and a lock wait
    /// that ran out (55P03, behind a rebuild or another runner).
    static func passes(_ error: any Error) -> Bool {
        if MessagePump.isTransient(error) { return true }
        return (error as? PostgresError)?.sqlState == "55P03"
    }
}

/// What a ``ProjectionRunner`` is doing, as the admin API shows it.
public struct ProjectionRunnerState: Sendable, Equatable {
    /// Whether it consumes now.
    public var running = false
    /// When its last batch committed.
    public var lastBatchAt: Date?
    /// The error of the batch that keeps failing; nil once a batch passes.
    public var lastError: String?
    /// Since when batches fail.
    public var failingSince: Date?

    /// Not started.
    public init() {}

    mutating func succeeded() {
        lastError = nil
        failingSince = nil
    }

    mutating func failed(_ error: any Error, at time: Date) {
        lastError = "\(error)"
        if failingSince == nil { failingSince = time }
    }
}
