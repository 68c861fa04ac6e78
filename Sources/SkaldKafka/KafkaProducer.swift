import CRdKafka
import Foundation
import SkaldSystem
public import Logging
public import ServiceLifecycle
import Synchronization

/// An idempotent Kafka producer whose `send` returns once the broker has the message.
///
/// `send` queues messages in librdkafka and suspends until their delivery
/// reports arrive; a dedicated poll thread serves the reports, so nothing
/// blocks the cooperative pool. The batch form awaits a whole batch with one
/// continuation, which is how the outbox relay publishes at full speed.
///
/// Run it as a ServiceLifecycle `Service` (it flushes and closes on graceful
/// shutdown) or call ``shutdown()`` yourself.
///
/// ```swift
/// let producer = try KafkaProducer(configuration: .init(bootstrapServers: "localhost:9092"))
/// let report = try await producer.send(KafkaOutgoingMessage(topic: "orders", key: "42", value: "{}"))
/// ```
public final class KafkaProducer: Sendable, Service {
    private let core: ProducerCore

    /// Creates the producer and starts its poll thread.
    ///
    /// `enable.idempotence` defaults to true, `message.timeout.ms` to 60 s so an
    /// unreachable cluster turns into delivery errors instead of a hang.
    /// - Throws: ``KafkaError`` naming the property when a property or value is invalid.
    public init(
        configuration: KafkaConfiguration,
        logger: Logger = Logger(label: "skald.kafka.producer")
    ) throws(KafkaError) {
        core = try ProducerCore(configuration: configuration, logger: logger)
    }

    deinit {
        core.requestStop()
    }

    /// Sends one message and returns where the broker stored it.
    ///
    /// Not cancellable: once queued, a message is delivered or fails within
    /// `message.timeout.ms`, and the call returns then.
    /// - Throws: ``KafkaError`` when the message cannot be delivered (after librdkafka's own retries).
    public func send(_ message: KafkaOutgoingMessage) async throws(KafkaError) -> KafkaDeliveryReport {
        let results = try await core.send([message])
        guard let result = results.first else {
            throw KafkaError.state("no delivery report", context: "KafkaProducer.send")
        }
        return try result.get()
    }

    /// Sends a batch and returns each message's outcome, in order, once all have a delivery report.
    ///
    /// A full local queue is waited out, not reported. Failures of single
    /// messages come back as `.failure` entries; the call itself only throws
    /// when the producer is shut down. Like the single form, it is not
    /// cancellable and returns within `message.timeout.ms` of the last message queued.
    public func send(
        _ messages: [KafkaOutgoingMessage]
    ) async throws(KafkaError) -> [Result<KafkaDeliveryReport, KafkaError>] {
        try await core.send(messages)
    }

    /// Waits until every queued message has a delivery report, or `timeout` passes.
    /// - Throws: ``KafkaError`` with code `_TIMED_OUT` when messages are still queued at the deadline.
    public func flush(timeout: Duration) async throws(KafkaError) {
        try await core.flush(timeout: timeout)
    }

    /// Gives up on every message still waiting for delivery: its `send` gets a failure
    /// (`_PURGE_QUEUE` or `_PURGE_INFLIGHT`) now instead of after `message.timeout.ms`.
    ///
    /// Meant for a stop while Kafka is not taking messages, which would otherwise wait out
    /// the timeout. A message purged in flight may still have reached the broker (only its
    /// acknowledgement is lost), so whoever sends it again must tolerate a copy; Skald's
    /// consumers drop copies by message id. The producer stays usable.
    ///
    /// Only what is queued when it runs is purged: a `send` still queueing its batch on
    /// another thread can queue the rest after it, so call it again until the sends you
    /// are waiting for have returned.
    /// - Returns: how many messages of `send` calls were waiting for a
    ///   report (0 when the producer is shut down).
    @discardableResult
    public func abandonUndelivered() async -> Int {
        await core.abandonUndelivered()
    }

    /// Asks the cluster for its brokers (and `topic`, if given); a quick way to check connectivity.
    /// - Throws: ``KafkaError`` (`_TRANSPORT`, `_TIMED_OUT`, …) when no broker answers within `timeout`.
    public func metadata(topic: String? = nil, timeout: Duration = .seconds(10)) async throws(KafkaError) -> KafkaClusterMetadata {
        try await core.metadata(topic: topic, timeout: timeout)
    }

    /// Flushes (up to ``KafkaConfiguration/shutdownFlushTimeout``), then stops the poll
    /// thread and destroys the client. Messages still queued fail with `_PURGE_QUEUE`.
    public func shutdown() async {
        await core.shutdown()
    }

    /// Runs until graceful shutdown (or cancellation), then flushes and closes the producer.
    public func run() async throws {
        try? await gracefulShutdown()
        await shutdown()
    }
}

/// The producer's state and poll thread; kept apart from ``KafkaProducer`` so the
/// thread can outlive a producer dropped without shutdown and still clean up.
final class ProducerCore: @unchecked Sendable {
    /// `tearingDown` starts once no sender is inside librdkafka; from then on nobody may touch the handle.
    private enum Phase { case running, stopping, tearingDown, stopped }

    private struct State {
        var phase = Phase.running
        var activeSenders = 0
        var liveBatches: [ObjectIdentifier: DeliveryBatch] = [:]
        var queueSpaceWaiters: [CheckedContinuation<Void, Never>] = []
        var flushWaiters: [(deadline: ContinuousClock.Instant, continuation: CheckedContinuation<Result<Void, KafkaError>, Never>)] = []
        var stopWaiters: [CheckedContinuation<Void, Never>] = []
        var topics: [String: RdKafkaPointer] = [:]
    }

    let handle: RdKafkaHandle
    let logger: Logger
    private let flushTimeout: Duration
    private let state = Mutex(State())
    private let worker: BlockingWorker

    init(configuration: KafkaConfiguration, logger: Logger) throws(KafkaError) {
        self.logger = logger
        self.flushTimeout = configuration.shutdownFlushTimeout
        handle = try RdKafkaHandle(
            type: RD_KAFKA_PRODUCER,
            properties: configuration.properties(withDefaults: KafkaConfiguration.producerDefaults, logLevel: logger.logLevel),
            callbacks: RdKafkaCallbacks(logger: logger),
            context: "KafkaProducer"
        ) { conf in
            rd_kafka_conf_set_dr_msg_cb(conf, deliveryReportCallback)
        }
        worker = BlockingWorker(name: "skald-producer")
        Thread.startNamed("skald-poll-p") { [self] in self.pollLoop() }
    }

    // MARK: Sending

    func send(_ messages: [KafkaOutgoingMessage]) async throws(KafkaError) -> [Result<KafkaDeliveryReport, KafkaError>] {
        guard !messages.isEmpty else { return [] }
        let batch = DeliveryBatch(count: messages.count)
        let admitted = state.withLock { state -> Bool in
            guard state.phase == .running else { return false }
            state.activeSenders += 1
            state.liveBatches[ObjectIdentifier(batch)] = batch
            return true
        }
        guard admitted else {
            throw KafkaError.state("the producer is shut down", context: "KafkaProducer.send")
        }

        var topicCache: [String: OpaquePointer] = [:]
        var index = 0
        while index < messages.count {
            let message = messages[index]
            let topic: OpaquePointer
            do throws(KafkaError) {
                topic = try topicHandle(message.topic, cache: &topicCache)
            } catch {
                batch.reject(index: index, error: error)
                index += 1
                continue
            }
            if let error = produce(message, topic: topic, opaque: batch.opaque(for: index)) {
                if error.code == .queueFull {
                    // librdkafka's queue is full: wait for delivery reports to make room.
                    if await waitForQueueSpace() { continue }
                    for rest in index..<messages.count {
                        batch.reject(index: rest, error: KafkaError(code: .purgedFromQueue, message: "the producer shut down before the message was queued", context: "KafkaProducer.send"))
                    }
                    break
                }
                batch.reject(index: index, error: error)
            }
            index += 1
        }
        state.withLock { $0.activeSenders -= 1 }

        await batch.waitForAllReports()
        state.withLock { _ = $0.liveBatches.removeValue(forKey: ObjectIdentifier(batch)) }
        return batch.results(for: messages)
    }

    /// Queues one message with `rd_kafka_produceva`; returns the refusal, if any.
    private func produce(_ message: KafkaOutgoingMessage, topic: OpaquePointer, opaque: UnsafeMutableRawPointer) -> KafkaError? {
        var headers: OpaquePointer?
        if !message.headers.isEmpty {
            let list = rd_kafka_headers_new(message.headers.count)
            // In place: no header is copied, and no reference counted, on its way to librdkafka.
            // librdkafka reads a nil value pointer as a header without a value, so an empty value
            // needs an address even when its buffer has none.
            withUnsafePointer(to: UInt8(0)) { empty in
                message.headers.forEachRaw { name, value in
                    _ = rd_kafka_header_add(
                        list, UnsafeRawPointer(name.baseAddress ?? empty).assumingMemoryBound(to: CChar.self), name.count,
                        value.map { UnsafeRawPointer($0.baseAddress ?? empty) }, value?.count ?? 0)
                }
            }
            headers = list
        }

        let error: OpaquePointer? = message.value.withUnsafeBytes { value in
            withOptionalBytes(message.key) { key in
                withUnsafeTemporaryAllocation(of: rd_kafka_vu_t.self, capacity: 7) { vus in
                    var count = 0
                    func append(_ build: (inout rd_kafka_vu_t) -> Void) {
                        var vu = rd_kafka_vu_t()
                        build(&vu)
                        vus.initializeElement(at: count, to: vu)
                        count += 1
                    }
                    append { $0.vtype = RD_KAFKA_VTYPE_RKT; $0.u.rkt = topic }
                    if let partition = message.partition {
                        append { $0.vtype = RD_KAFKA_VTYPE_PARTITION; $0.u.i32 = partition }
                    }
                    append {
                        $0.vtype = RD_KAFKA_VTYPE_VALUE
                        $0.u.mem.ptr = UnsafeMutableRawPointer(mutating: value.baseAddress)
                        $0.u.mem.size = value.count
                    }
                    if let key {
                        append {
                            $0.vtype = RD_KAFKA_VTYPE_KEY
                            $0.u.mem.ptr = UnsafeMutableRawPointer(mutating: key.baseAddress)
                            $0.u.mem.size = key.count
                        }
                    }
                    append { $0.vtype = RD_KAFKA_VTYPE_MSGFLAGS; $0.u.i = RD_KAFKA_MSG_F_COPY }
                    append { $0.vtype = RD_KAFKA_VTYPE_OPAQUE; $0.u.ptr = opaque }
                    if let headers {
                        append { $0.vtype = RD_KAFKA_VTYPE_HEADERS; $0.u.headers = headers }
                    }
                    let error = rd_kafka_produceva(handle.pointer, vus.baseAddress, count)
                    vus.baseAddress?.deinitialize(count: count)
                    return error
                }
            }
        }
        guard let error else { return nil }
        // On failure the headers stay ours to free.
        if let headers { rd_kafka_headers_destroy(headers) }
        return KafkaError(consuming: error, context: "KafkaProducer.send to \(message.topic)")
    }

    private func topicHandle(_ name: String, cache: inout [String: OpaquePointer]) throws(KafkaError) -> OpaquePointer {
        if let cached = cache[name] { return cached }
        let rk = handle.pointer
        let topic = state.withLock { state -> RdKafkaPointer? in
            if let known = state.topics[name] { return known }
            guard let created = rd_kafka_topic_new(rk, name, nil) else { return nil }
            state.topics[name] = RdKafkaPointer(pointer: created)
            return RdKafkaPointer(pointer: created)
        }?.pointer
        guard let topic else {
            throw KafkaError(rd_kafka_last_error(), context: "KafkaProducer.send", message: "invalid topic name \"\(name)\"")
        }
        cache[name] = topic
        return topic
    }

    /// Suspends until the poll thread has served delivery reports; false when the producer is stopping.
    private func waitForQueueSpace() async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            state.withLock { $0.queueSpaceWaiters.append(continuation) }
        }
        return state.withLock { $0.phase == .running }
    }

    // MARK: Flush, metadata, shutdown

    func flush(timeout: Duration) async throws(KafkaError) {
        let rk = handle.pointer
        // Asked under the lock so teardown cannot destroy the handle meanwhile.
        let queued = state.withLock { state -> Int32? in
            guard state.phase == .running || state.phase == .stopping else { return nil }
            return rd_kafka_outq_len(rk)
        }
        guard let queued else {
            throw KafkaError.state("the producer is shut down", context: "KafkaProducer.flush")
        }
        if queued == 0 { return }
        let deadline = ContinuousClock.now.advanced(by: timeout)
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<Void, KafkaError>, Never>) in
            let accepted = state.withLock { state -> Bool in
                guard state.phase == .running || state.phase == .stopping else { return false }
                state.flushWaiters.append((deadline, continuation))
                return true
            }
            if !accepted {
                continuation.resume(returning: .failure(.state("the producer is shut down", context: "KafkaProducer.flush")))
            }
        }
        try result.get()
    }

    func metadata(topic: String?, timeout: Duration) async throws(KafkaError) -> KafkaClusterMetadata {
        let admitted = state.withLock { state -> Bool in
            guard state.phase == .running else { return false }
            state.activeSenders += 1
            return true
        }
        guard admitted else { throw KafkaError.state("the producer is shut down", context: "KafkaProducer.metadata") }
        defer { state.withLock { $0.activeSenders -= 1 } }
        let handle = handle
        return try await worker.run { () throws(KafkaError) in
            try handle.metadata(topic: topic, timeout: timeout, context: "KafkaProducer.metadata")
        }
    }

    func abandonUndelivered() async -> Int {
        let admitted = state.withLock { state -> Bool in
            guard state.phase == .running || state.phase == .stopping else { return false }
            state.activeSenders += 1
            return true
        }
        guard admitted else { return 0 }
        defer { state.withLock { $0.activeSenders -= 1 } }
        let handle = handle
        // Counted from the senders' batches: rd_kafka_outq_len also counts queued events.
        let waiting = state.withLock { state in state.liveBatches.values.reduce(0) { $0 + $1.outstanding } }
        // rd_kafka_purge waits for every broker thread to drop its queues: on the worker thread.
        _ = try? await worker.run { () throws(KafkaError) in
            rd_kafka_purge(handle.pointer, Int32(RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT))
        }
        return waiting
    }

    func shutdown() async {
        do throws(KafkaError) {
            try await flush(timeout: flushTimeout)
        } catch {
            logger.warning("producer shut down with undelivered messages: \(error)")
        }
        let rk = handle.pointer
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let alreadyStopped = state.withLock { state -> Bool in
                if state.phase == .stopped { return true }
                if state.phase == .running || state.phase == .stopping {
                    state.phase = .stopping
                    // Wakes the poll thread now rather than after its poll timeout.
                    rd_kafka_yield(rk)
                }
                state.stopWaiters.append(continuation)
                return false
            }
            if alreadyStopped { continuation.resume() }
        }
    }

    /// Asks the poll thread to stop without flushing; used when the producer is dropped.
    func requestStop() {
        let rk = handle.pointer
        state.withLock { state in
            guard state.phase == .running else { return }
            state.phase = .stopping
            rd_kafka_yield(rk)
        }
    }

    // MARK: The poll thread

    private func pollLoop() {
        let rk = handle.pointer
        while true {
            let fastPoll = state.withLock { !$0.flushWaiters.isEmpty || !$0.queueSpaceWaiters.isEmpty }
            rd_kafka_poll(rk, fastPoll ? 5 : 100)

            let queued = rd_kafka_outq_len(rk)
            let now = ContinuousClock.now
            var readyFlushes: [(CheckedContinuation<Result<Void, KafkaError>, Never>, Result<Void, KafkaError>)] = []
            let (spaceWaiters, exit) = state.withLock { state in
                let waiters = state.queueSpaceWaiters
                state.queueSpaceWaiters.removeAll()
                state.flushWaiters.removeAll { waiter in
                    if queued == 0 {
                        readyFlushes.append((waiter.continuation, .success(())))
                        return true
                    }
                    if now >= waiter.deadline {
                        let error = KafkaError(
                            code: .timedOut,
                            message: "\(queued) messages still waiting for delivery when the flush timed out",
                            context: "KafkaProducer.flush"
                        )
                        readyFlushes.append((waiter.continuation, .failure(error)))
                        return true
                    }
                    return false
                }
                guard state.phase == .stopping, state.activeSenders == 0 else { return (waiters, false) }
                state.phase = .tearingDown
                return (waiters, true)
            }
            for waiter in spaceWaiters { waiter.resume() }
            for (continuation, result) in readyFlushes { continuation.resume(returning: result) }
            if exit { break }
        }
        teardown()
    }

    /// Purges what is left (failing its senders), destroys the handle and wakes everyone waiting.
    private func teardown() {
        let rk = handle.pointer
        rd_kafka_purge(rk, Int32(RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT))
        var attempts = 0
        while rd_kafka_outq_len(rk) > 0 && attempts < 50 {
            rd_kafka_poll(rk, 10)
            attempts += 1
        }
        let (topics, batches) = state.withLock { state in
            state.phase = .stopped
            return (Array(state.topics.values), Array(state.liveBatches.values))
        }
        for topic in topics { rd_kafka_topic_destroy(topic.pointer) }
        handle.destroy()
        worker.stop()
        // No callback can run any more: fail whatever never got a report.
        for batch in batches { batch.failOutstanding(with: .purgedInFlight) }
        let (spaceWaiters, flushWaiters, stopWaiters) = state.withLock { state in
            defer {
                state.queueSpaceWaiters.removeAll()
                state.flushWaiters.removeAll()
                state.stopWaiters.removeAll()
            }
            return (state.queueSpaceWaiters, state.flushWaiters, state.stopWaiters)
        }
        for waiter in spaceWaiters { waiter.resume() }
        for waiter in flushWaiters {
            waiter.continuation.resume(returning: .failure(.state("the producer shut down during flush", context: "KafkaProducer.flush")))
        }
        for waiter in stopWaiters { waiter.resume() }
        logger.debug("producer closed")
    }
}

/// Calls `body` with the bytes of `bytes`, or with `nil` when there are none.
func withOptionalBytes<Result>(_ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer?) -> Result) -> Result {
    guard let bytes else { return body(nil) }
    return bytes.withUnsafeBytes { body($0) }
}
