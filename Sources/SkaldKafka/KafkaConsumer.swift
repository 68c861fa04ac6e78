import CRdKafka
public import Logging
public import ServiceLifecycle

/// A consumer group member that hands out messages as an `AsyncSequence` and commits
/// only what the caller has marked as done.
///
/// A poll thread of its own runs `rd_kafka_consumer_poll` and fills a bounded
/// buffer; a slow reader back-pressures that thread, never growing memory.
/// Offsets are stored manually (`enable.auto.offset.store=false`): after
/// processing a batch, call ``storeOffsets(for:)`` and ``commit()``. The
/// assignment strategy defaults to cooperative-sticky; rebalances appear on
/// ``rebalanceEvents``. ``close()`` commits what was stored and leaves the
/// group at once so other members take over without waiting for a timeout.
///
/// ```swift
/// let consumer = try KafkaConsumer(configuration: configuration, topics: ["orders"])
/// while let batch = try await consumer.nextBatch(maxCount: 500) {
///     try await process(batch)
///     try consumer.storeOffsets(for: batch)
///     try await consumer.commit()
/// }
/// ```
public final class KafkaConsumer: Sendable, Service {
    let core: ConsumerCore

    /// Joins the group in `configuration.groupID` and subscribes to `topics`.
    ///
    /// Defaults where unset: `enable.auto.offset.store=false`,
    /// `partition.assignment.strategy=cooperative-sticky`, `auto.offset.reset=earliest`.
    /// - Throws: ``KafkaError`` for a missing `group.id`, no topics, or a bad property (named in the error).
    public init(
        configuration: KafkaConfiguration,
        topics: [String],
        logger: Logger = Logger(label: "skald.kafka.consumer")
    ) throws(KafkaError) {
        core = try ConsumerCore(configuration: configuration, topics: topics, logger: logger)
    }

    deinit {
        core.requestClose()
    }

    /// The consumed messages, one by one; ends when the consumer is closed.
    ///
    /// Iterate it from one task at a time. It throws a ``KafkaError`` when the
    /// client hits a fatal error.
    public var messages: KafkaMessageSequence {
        KafkaMessageSequence(core: core)
    }

    /// The consumed messages in batches of at most `maxCount`, each as large as is
    /// available without waiting; ends when the consumer is closed.
    public func batches(maxCount: Int = 500) -> KafkaBatchSequence {
        KafkaBatchSequence(core: core, maxCount: maxCount)
    }

    /// Waits for messages and returns up to `maxCount` of them, or `nil` once the consumer is
    /// closed (or the task cancelled).
    /// - Throws: ``KafkaError`` after a fatal client error.
    public func nextBatch(maxCount: Int = 500) async throws(KafkaError) -> [KafkaMessage]? {
        try await core.buffer.take(maxCount: maxCount)
    }

    /// Partition assignments and revocations, as they happen.
    ///
    /// Revocations arrive after stored offsets were committed; buffered messages
    /// of revoked partitions are dropped (their new owner reads them).
    public var rebalanceEvents: AsyncStream<KafkaRebalanceEvent> {
        core.rebalanceEvents
    }

    /// The partitions this member currently owns.
    public var assignment: Set<KafkaTopicPartition> {
        core.currentAssignment
    }

    /// How many messages wait after the last one marked processed, per assigned partition:
    /// the consumer lag.
    ///
    /// Counts from the last offset stored; in a partition with nothing stored since it was
    /// assigned, from the group's committed offset (or, with none, the partition's first).
    /// Asks the brokers for the watermarks (a blocking call, made on the consumer's worker
    /// thread), all within `timeout`; partitions not answered in time are left out, and a
    /// closed consumer owns none.
    public func lag(timeout: Duration = .seconds(2)) async -> [KafkaTopicPartition: Int64] {
        await core.lag(timeout: timeout)
    }

    /// Marks `messages` as processed: the next commit records, per partition, the
    /// offset after the highest one given.
    ///
    /// Partitions no longer assigned to this member are skipped (their new owner will
    /// read those messages again).
    /// - Throws: ``KafkaError`` when the consumer is closed or librdkafka rejects the offsets.
    public func storeOffsets(for messages: some Sequence<KafkaMessage>) throws(KafkaError) {
        var highest: [KafkaTopicPartition: Int64] = [:]
        for message in messages {
            highest[message.topicPartition] = max(highest[message.topicPartition] ?? -1, message.offset)
        }
        try core.store(highest)
    }

    /// ``storeOffsets(for:)-(Sequence)`` for a batch as ``nextBatch(maxCount:)`` returns it.
    ///
    /// Reads only each message's partition and offset, where walking a generic sequence
    /// copied every message whole, and hashes a partition once per run of its messages
    /// (a batch holds such runs) rather than twice per message.
    public func storeOffsets(for messages: [KafkaMessage]) throws(KafkaError) {
        var highest: [KafkaTopicPartition: Int64] = [:]
        var run: (partition: KafkaTopicPartition, offset: Int64)?
        for index in messages.indices {
            let offset = messages[index].offset
            if let current = run, current.partition.partition == messages[index].partition,
                current.partition.topic == messages[index].topic
            {
                run?.offset = max(current.offset, offset)
                continue
            }
            if let finished = run { highest[finished.partition, default: -1] = max(highest[finished.partition, default: -1], finished.offset) }
            run = (messages[index].topicPartition, offset)
        }
        if let finished = run { highest[finished.partition, default: -1] = max(highest[finished.partition, default: -1], finished.offset) }
        try core.store(highest)
    }

    /// Marks the message at `offset` (and everything before it) in `topic`/`partition` as processed.
    public func storeOffset(topic: String, partition: Int32, offset: Int64) throws(KafkaError) {
        try core.store([KafkaTopicPartition(topic: topic, partition: partition): offset])
    }

    /// Commits the stored offsets to the group coordinator and waits for the result.
    ///
    /// Runs librdkafka's synchronous commit on a worker thread; having nothing
    /// new to commit is not an error. During a rebalance it fails with a
    /// retriable error (`REBALANCE_IN_PROGRESS`, `ILLEGAL_GENERATION`,
    /// `UNKNOWN_MEMBER_ID`, `_ASSIGNMENT_LOST`, or `_TIMED_OUT` after ``KafkaConfiguration/commitTimeout``;
    /// see ``KafkaError/isRetriable``): keep consuming — the
    /// offsets stay stored for the next commit, and whatever a partition's new
    /// owner reads again is absorbed by the inbox.
    public func commit() async throws(KafkaError) {
        try await core.commit()
    }

    /// Asks the cluster for its brokers (and `topic`, if given); a quick way to check connectivity.
    /// - Throws: ``KafkaError`` (`_TRANSPORT`, `_TIMED_OUT`, …) when no broker answers within `timeout`.
    public func metadata(topic: String? = nil, timeout: Duration = .seconds(10)) async throws(KafkaError) -> KafkaClusterMetadata {
        try await core.metadata(topic: topic, timeout: timeout)
    }

    /// Commits the stored offsets, leaves the group and destroys the client.
    ///
    /// Partitions are released at once. Buffered messages that were not stored are
    /// dropped (they are read again by the next owner). Safe to call more than once.
    ///
    /// Waits at most ``KafkaConfiguration/closeTimeout`` for the group coordinator. Past it
    /// (no broker answers) the close is given up and logged as an error, and the call returns
    /// normally: the client is left undestroyed for the process's exit, the group drops the
    /// member after `session.timeout.ms`, and the uncommitted messages are read again.
    /// - Throws: ``KafkaError`` when the final commit failed for a reason other than a
    ///   rebalance or an unreachable coordinator (those are logged: the next owner reads the
    ///   uncommitted messages again).
    public func close() async throws(KafkaError) {
        try await core.close()
    }

    /// Runs until graceful shutdown (or cancellation), then closes the consumer.
    public func run() async throws {
        try? await gracefulShutdown()
        try await close()
    }
}
