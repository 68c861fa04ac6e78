import CRdKafka
import Foundation
import SkaldSystem
import Logging
import Synchronization

/// The consumer's handle, poll thread and state; ``KafkaConsumer`` is its public face.
///
/// Messages and events travel on separate librdkafka queues: every assigned
/// partition is forwarded to `messageQueue`, so the consumer queue carries only
/// rebalances, errors and commit results. The poll thread serves events on every
/// turn and takes messages only while the buffer has room; a full buffer can
/// therefore never hold up a rebalance (which a blocking commit may be waiting
/// for). Partitions are not paused for back-pressure: librdkafka before 2.1.0
/// can skip messages on repeated pause/resume. librdkafka's own prefetch limits
/// (`queued.max.messages.kbytes`) bound what waits in `messageQueue`.
///
/// Lifetime of the librdkafka handle: only the poll thread destroys it, and
/// only after `liveness` says no other thread is inside a librdkafka call.
final class ConsumerCore: @unchecked Sendable {
    private enum Phase { case running, closing, closed }

    private struct State {
        var phase = Phase.running
        var assignment: Set<KafkaTopicPartition> = []
        /// The next offset to process in each assigned partition, as last stored (for ``lag()``).
        var stored: [KafkaTopicPartition: Int64] = [:]
        var closeWaiters: [CheckedContinuation<Result<Void, KafkaError>, Never>] = []
        var closeResult: Result<Void, KafkaError>?
    }

    /// Whether the handle may be used, and how many threads are using it right now.
    private struct Liveness {
        var usable = true
        var users = 0
    }

    let handle: RdKafkaHandle
    let buffer: ConsumerBuffer
    let logger: Logger
    let rebalanceEvents: AsyncStream<KafkaRebalanceEvent>
    private let rebalanceContinuation: AsyncStream<KafkaRebalanceEvent>.Continuation
    private let state = Mutex(State())
    private let liveness = Mutex(Liveness())
    /// Set by the error callback when librdkafka raises a fatal error, so the poll loop
    /// only asks for the fatal error when there is one.
    private let fatalRaised = Atomic<Bool>(false)
    private let worker: BlockingWorker
    private let commitTimeout: Duration
    private let closeTimeout: Duration
    /// Where the messages of every assigned partition are forwarded.
    private let messageQueue: RdKafkaPointer
    // Touched only by the poll thread (in the loop and in callbacks it serves).
    private var lastCommitError: KafkaError?

    init(configuration: KafkaConfiguration, topics: [String], logger: Logger) throws(KafkaError) {
        guard let group = configuration.groupID, !group.isEmpty else {
            throw KafkaError(code: .invalidArgument, message: "a consumer needs group.id", context: "KafkaConfiguration: group.id", isRetriable: false)
        }
        guard !topics.isEmpty, topics.allSatisfy({ !$0.isEmpty }) else {
            throw KafkaError(code: .invalidArgument, message: "a consumer needs at least one non-empty topic name, got \(topics)", context: "KafkaConsumer", isRetriable: false)
        }
        // The whole point of this consumer is that only what the caller marked done is ever
        // committed; librdkafka's automatic offset store would commit fetched, unprocessed
        // messages, and a crash would then lose them.
        if let store = configuration["enable.auto.offset.store"], store.lowercased() != "false" {
            throw KafkaError(
                code: .invalidValue,
                message: "enable.auto.offset.store must stay false: offsets are stored only for messages the caller marks done",
                context: "KafkaConfiguration: enable.auto.offset.store", isRetriable: false)
        }
        self.logger = logger
        self.commitTimeout = configuration.commitTimeout
        self.closeTimeout = configuration.closeTimeout
        self.buffer = ConsumerBuffer(capacity: configuration.consumerBufferCapacity)
        (rebalanceEvents, rebalanceContinuation) = AsyncStream.makeStream(of: KafkaRebalanceEvent.self, bufferingPolicy: .bufferingNewest(4096))

        let callbacks = RdKafkaCallbacks(logger: logger)
        handle = try RdKafkaHandle(
            type: RD_KAFKA_CONSUMER,
            properties: configuration.properties(withDefaults: KafkaConfiguration.consumerDefaults, logLevel: logger.logLevel),
            callbacks: callbacks,
            context: "KafkaConsumer"
        ) { conf in
            rd_kafka_conf_set_rebalance_cb(conf) { rk, err, partitions, _ in
                guard let rk, let partitions, let callbacks = RdKafkaCallbacks.from(rk) else { return }
                callbacks.onRebalance?(rk, err, partitions)
            }
            rd_kafka_conf_set_offset_commit_cb(conf) { rk, err, _, _ in
                RdKafkaCallbacks.from(rk)?.onCommit?(err)
            }
        }
        worker = BlockingWorker(name: "skald-consumer")
        messageQueue = RdKafkaPointer(pointer: rd_kafka_queue_new(handle.pointer))
        callbacks.onRebalance = { [weak self] rk, err, partitions in
            self?.rebalance(rk, err, partitions)
        }
        callbacks.onCommit = { [weak self] err in
            self?.commitCompleted(err)
        }
        callbacks.onError = { [weak self] error in
            if error.isFatal { self?.fatalRaised.store(true, ordering: .releasing) }
        }

        let rk = handle.pointer
        // Serve everything (rebalances, errors, commit results) from the consumer queue.
        rd_kafka_poll_set_consumer(rk)
        let subscription = rd_kafka_topic_partition_list_new(Int32(topics.count))
        for topic in topics {
            rd_kafka_topic_partition_list_add(subscription, topic, RD_KAFKA_PARTITION_UA)
        }
        let err = rd_kafka_subscribe(rk, subscription)
        rd_kafka_topic_partition_list_destroy(subscription)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            rd_kafka_consumer_close(rk)
            rd_kafka_queue_destroy(messageQueue.pointer)
            handle.destroy()
            worker.stop()
            throw KafkaError(err, context: "KafkaConsumer.subscribe \(topics)")
        }

        Thread.startNamed("skald-poll-c") { [self] in self.pollLoop() }
    }

    var currentAssignment: Set<KafkaTopicPartition> {
        state.withLock { $0.assignment }
    }

    // MARK: Using the handle from other threads

    /// Runs `body` with the handle, unless the consumer is closing; teardown waits for it to return.
    private func withHandle<Value>(_ context: String, _ body: (OpaquePointer) throws(KafkaError) -> Value) throws(KafkaError) -> Value {
        let usable = liveness.withLock { liveness -> Bool in
            guard liveness.usable else { return false }
            liveness.users += 1
            return true
        }
        guard usable else { throw KafkaError.state("the consumer is closed", context: context) }
        defer { liveness.withLock { $0.users -= 1 } }
        return try body(handle.pointer)
    }

    func store(_ highest: [KafkaTopicPartition: Int64]) throws(KafkaError) {
        guard !highest.isEmpty else { return }
        try withHandle("KafkaConsumer.storeOffsets") { rk throws(KafkaError) in
            let list = rd_kafka_topic_partition_list_new(Int32(highest.count))
            defer { rd_kafka_topic_partition_list_destroy(list) }
            for (topicPartition, offset) in highest {
                // Kafka's committed offset is the next one to read.
                rd_kafka_topic_partition_list_add(list, topicPartition.topic, topicPartition.partition)?.pointee.offset = offset + 1
            }
            let err = rd_kafka_offsets_store(rk, list)
            var refused: Set<KafkaTopicPartition> = []
            if err != RD_KAFKA_RESP_ERR_NO_ERROR, let list {
                for index in 0..<Int(list.pointee.cnt) where list.pointee.elems[index].err != RD_KAFKA_RESP_ERR_NO_ERROR {
                    let element = list.pointee.elems[index]
                    refused.insert(KafkaTopicPartition(topic: String(cString: element.topic), partition: element.partition))
                }
            }
            state.withLock { state in
                for (topicPartition, offset) in highest
                where state.assignment.contains(topicPartition) && !refused.contains(topicPartition) {
                    state.stored[topicPartition] = max(state.stored[topicPartition] ?? 0, offset + 1)
                }
            }
            guard err != RD_KAFKA_RESP_ERR_NO_ERROR, let list else { return }
            for index in 0..<Int(list.pointee.cnt) {
                let element = list.pointee.elems[index]
                if element.err == RD_KAFKA_RESP_ERR__STATE {
                    logger.debug("offset not stored for \(String(cString: element.topic))[\(element.partition)]: no longer assigned")
                } else if element.err != RD_KAFKA_RESP_ERR_NO_ERROR {
                    throw KafkaError(element.err, context: "KafkaConsumer.storeOffsets \(String(cString: element.topic))[\(element.partition)]")
                }
            }
        }
    }

    /// Messages after the last one processed, per assigned partition: the partition's high
    /// watermark minus the next offset to process (the last one stored; before anything was
    /// stored since the assignment, the group's committed offset; with none, the partition's
    /// first offset).
    ///
    /// Asks the brokers, on the worker thread: the watermarks librdkafka caches from fetch
    /// responses stop moving exactly when the lag matters, once its prefetch queue is full
    /// and it stops fetching. Every call shares one `timeout`; partitions it could not ask
    /// about in time are left out, and a closed consumer owns none.
    func lag(timeout: Duration) async -> [KafkaTopicPartition: Int64] {
        let (assigned, stored) = state.withLock { ($0.assignment, $0.stored) }
        guard !assigned.isEmpty else { return [:] }
        let usable = liveness.withLock { liveness -> Bool in
            guard liveness.usable else { return false }
            liveness.users += 1
            return true
        }
        guard usable else { return [:] }
        defer { liveness.withLock { $0.users -= 1 } }
        let rk = RdKafkaPointer(pointer: handle.pointer)
        let result = try? await worker.run { () throws(KafkaError) in
            Self.lag(rk.pointer, assigned: assigned, stored: stored, timeout: timeout)
        }
        return result ?? [:]
    }

    /// ``lag(timeout:)``'s broker calls; blocks, so only on the worker thread.
    private static func lag(
        _ rk: OpaquePointer, assigned: Set<KafkaTopicPartition>, stored: [KafkaTopicPartition: Int64], timeout: Duration
    ) -> [KafkaTopicPartition: Int64] {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        func remaining() -> Int32 { Int32(clamping: max(0, (deadline - ContinuousClock.now).clampedMilliseconds)) }
        var next = stored
        let unstored = assigned.filter { stored[$0] == nil }
        if !unstored.isEmpty, let list = rd_kafka_topic_partition_list_new(Int32(unstored.count)) {
            defer { rd_kafka_topic_partition_list_destroy(list) }
            for topicPartition in unstored {
                rd_kafka_topic_partition_list_add(list, topicPartition.topic, topicPartition.partition)
            }
            if rd_kafka_committed(rk, list, max(1, remaining())) == RD_KAFKA_RESP_ERR_NO_ERROR {
                for index in 0..<Int(list.pointee.cnt) {
                    let element = list.pointee.elems[index]
                    guard element.err == RD_KAFKA_RESP_ERR_NO_ERROR, element.offset >= 0 else { continue }
                    next[KafkaTopicPartition(topic: String(cString: element.topic), partition: element.partition)] = element.offset
                }
            }
        }
        var lag: [KafkaTopicPartition: Int64] = [:]
        for topicPartition in assigned.sorted() {
            let left = remaining()
            guard left > 0 else { break }
            var low: Int64 = 0
            var high: Int64 = 0
            let err = rd_kafka_query_watermark_offsets(rk, topicPartition.topic, topicPartition.partition, &low, &high, left)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR, high >= 0 else { continue }
            lag[topicPartition] = max(0, high - (next[topicPartition] ?? low))
        }
        return lag
    }

    func commit() async throws(KafkaError) {
        let usable = liveness.withLock { liveness -> Bool in
            guard liveness.usable else { return false }
            liveness.users += 1
            return true
        }
        guard usable else { throw KafkaError.state("the consumer is closed", context: "KafkaConsumer.commit") }
        let rk = RdKafkaPointer(pointer: handle.pointer)
        let timeout = commitTimeout
        defer { liveness.withLock { $0.users -= 1 } }
        try await worker.run { () throws(KafkaError) in
            try Self.commitStored(rk.pointer, timeout: timeout, context: "KafkaConsumer.commit")
        }
    }

    /// Commits the stored offsets and waits up to `timeout` for the coordinator's answer;
    /// blocks, so only on the worker thread.
    ///
    /// Not `rd_kafka_commit(…, async: 0)`: in librdkafka 2.0.2 a synchronous commit
    /// issued while the group rebalances can wait forever. The result comes back on
    /// a queue of its own instead, and the wait is bounded.
    static func commitStored(_ rk: OpaquePointer, timeout: Duration, context: String) throws(KafkaError) {
        guard let queue = rd_kafka_queue_new(rk) else {
            throw KafkaError(code: .failure, message: "cannot create a queue for the commit result", context: context)
        }
        defer { rd_kafka_queue_destroy(queue) }
        let err = rd_kafka_commit_queue(rk, nil, queue, nil, nil)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            if err == RD_KAFKA_RESP_ERR__NO_OFFSET { return }
            throw KafkaError(err, context: context)
        }
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while ContinuousClock.now < deadline {
            let remaining = deadline - ContinuousClock.now
            guard let event = rd_kafka_queue_poll(queue, max(1, remaining.clampedMilliseconds)) else { continue }
            defer { rd_kafka_event_destroy(event) }
            guard rd_kafka_event_type(event) == RD_KAFKA_EVENT_OFFSET_COMMIT else { continue }
            let result = rd_kafka_event_error(event)
            // Nothing stored since the last commit is success, not failure.
            if result == RD_KAFKA_RESP_ERR_NO_ERROR || result == RD_KAFKA_RESP_ERR__NO_OFFSET { return }
            throw KafkaError(result, context: context)
        }
        throw KafkaError(
            code: .timedOut,
            message: "the commit got no answer within \(timeout) (the group may be rebalancing); the offsets stay stored",
            context: context,
            isRetriable: true
        )
    }

    func metadata(topic: String?, timeout: Duration) async throws(KafkaError) -> KafkaClusterMetadata {
        let usable = liveness.withLock { liveness -> Bool in
            guard liveness.usable else { return false }
            liveness.users += 1
            return true
        }
        guard usable else { throw KafkaError.state("the consumer is closed", context: "KafkaConsumer.metadata") }
        defer { liveness.withLock { $0.users -= 1 } }
        let handle = handle
        return try await worker.run { () throws(KafkaError) in
            try handle.metadata(topic: topic, timeout: timeout, context: "KafkaConsumer.metadata")
        }
    }

    // MARK: Closing

    func close() async throws(KafkaError) {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<Void, KafkaError>, Never>) in
            let done = state.withLock { state -> Result<Void, KafkaError>? in
                if let result = state.closeResult { return result }
                state.phase = .closing
                state.closeWaiters.append(continuation)
                return nil
            }
            if let done {
                continuation.resume(returning: done)
            } else {
                buffer.finish()
            }
        }
        try result.get()
    }

    /// Asks the poll thread to close without waiting; used when the consumer is dropped.
    func requestClose() {
        state.withLock { state in
            if state.phase == .running { state.phase = .closing }
        }
        buffer.finish()
    }

    // MARK: The poll thread

    private func pollLoop() {
        let rk = handle.pointer
        let messages = messageQueue.pointer
        var topicNames: [OpaquePointer: String] = [:]
        while state.withLock({ $0.phase == .running }) {
            // Events first, whatever the buffer holds: rebalances, errors, commit results.
            var early: [KafkaMessage] = []
            while early.count < 1000, let event = rd_kafka_consumer_poll(rk, 0) {
                defer { rd_kafka_message_destroy(event) }
                if event.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR {
                    // Fetched before its partition was forwarded; rare, and kept so nothing is skipped.
                    early.append(Self.makeMessage(event, topicNames: &topicNames))
                } else {
                    handleConsumeError(event)
                }
            }
            buffer.push(early)

            // Then messages, only as many as fit: a full buffer back-pressures fetching.
            let room = buffer.waitForSpace(timeout: 0.02)
            guard room > 0 else { continue }
            var chunk: [KafkaMessage] = []
            var timeout: Int32 = 20
            while chunk.count < min(room, 1000) {
                guard let message = rd_kafka_consume_queue(messages, timeout) else { break }
                timeout = 0
                defer { rd_kafka_message_destroy(message) }
                if message.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR {
                    chunk.append(Self.makeMessage(message, topicNames: &topicNames))
                } else {
                    handleConsumeError(message)
                }
            }
            buffer.push(chunk)
            if fatalRaised.load(ordering: .acquiring), let fatal = handle.fatalClientError(context: "KafkaConsumer") {
                logger.error("consumer stopped: \(fatal)")
                buffer.finish(error: fatal)
                state.withLock { state in
                    if state.phase == .running { state.phase = .closing }
                }
            }
        }
        teardown()
    }

    /// Sends the messages of newly assigned partitions to `messageQueue` instead of the consumer queue.
    private func forwardToMessageQueue(_ rk: OpaquePointer, _ partitions: [KafkaTopicPartition]) {
        for partition in partitions {
            guard let queue = rd_kafka_queue_get_partition(rk, partition.topic, partition.partition) else {
                logger.warning("no queue for \(partition): its messages arrive with the events")
                continue
            }
            rd_kafka_queue_forward(queue, messageQueue.pointer)
            rd_kafka_queue_destroy(queue)
        }
    }

    private func commitCompleted(_ err: rd_kafka_resp_err_t) {
        guard err != RD_KAFKA_RESP_ERR_NO_ERROR, err != RD_KAFKA_RESP_ERR__NO_OFFSET else { return }
        let error = KafkaError(err, context: "KafkaConsumer commit")
        lastCommitError = error
        logger.warning("\(error)")
    }

    private func handleConsumeError(_ message: UnsafeMutablePointer<rd_kafka_message_t>) {
        let err = message.pointee.err
        if err == RD_KAFKA_RESP_ERR__PARTITION_EOF { return }
        let text = rd_kafka_message_errstr(message).map { String(cString: $0) }
        logger.warning("\(KafkaError(err, context: "KafkaConsumer.poll", message: text))")
    }

    /// Copies one librdkafka message into Swift values.
    static func makeMessage(_ message: UnsafeMutablePointer<rd_kafka_message_t>, topicNames: inout [OpaquePointer: String]) -> KafkaMessage {
        let raw = message.pointee
        var topic = ""
        if let rkt = raw.rkt {
            if let name = topicNames[rkt] {
                topic = name
            } else {
                topic = String(cString: rd_kafka_topic_name(rkt))
                topicNames[rkt] = topic
            }
        }
        let value = raw.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: raw.len)) } ?? []
        let key = raw.key.map { Array(UnsafeRawBufferPointer(start: $0, count: raw.key_len)) }

        var headers = KafkaHeaders()
        var headerList: OpaquePointer?
        if rd_kafka_message_headers(message, &headerList) == RD_KAFKA_RESP_ERR_NO_ERROR, let headerList {
            // Two walks: the first sizes the buffer, so that the second fills it without growing it.
            let count = rd_kafka_header_cnt(headerList)
            var name: UnsafePointer<CChar>?
            var valuePointer: UnsafeRawPointer?
            var size = 0
            func header(_ index: Int) -> Bool {
                rd_kafka_header_get_all(headerList, index, &name, &valuePointer, &size) == RD_KAFKA_RESP_ERR_NO_ERROR
            }
            var byteCount = 0
            for index in 0..<count where header(index) {
                byteCount += (name.map { strlen($0) } ?? 0) + (valuePointer == nil ? 0 : size)
            }
            headers.reserveCapacity(headers: count, bytes: byteCount)
            for index in 0..<count where header(index) {
                let nameBytes = name.map { UnsafeRawBufferPointer(start: $0, count: strlen($0)).assumingMemoryBound(to: UInt8.self) }
                headers.append(
                    name: nameBytes ?? UnsafeBufferPointer(start: nil, count: 0),
                    value: valuePointer.map { UnsafeRawBufferPointer(start: $0, count: size).assumingMemoryBound(to: UInt8.self) }
                )
            }
        }

        var timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let milliseconds = rd_kafka_message_timestamp(message, &timestampType)
        let timestamp = timestampType == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
            ? nil : Date(timeIntervalSince1970: Double(milliseconds) / 1000)

        return KafkaMessage(
            topic: topic,
            partition: raw.partition,
            offset: raw.offset,
            key: key,
            value: value,
            headers: headers,
            timestamp: timestamp
        )
    }

    /// Runs inside `rd_kafka_consumer_poll` (or, while closing, `rd_kafka_consume_queue` on the
    /// close queue) on the poll thread.
    private func rebalance(_ rk: OpaquePointer, _ err: rd_kafka_resp_err_t, _ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) {
        let partitions = (0..<Int(list.pointee.cnt)).map { index in
            let element = list.pointee.elems[index]
            return KafkaTopicPartition(topic: String(cString: element.topic), partition: element.partition)
        }
        let cooperative = String(cString: rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE"

        switch err {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            // Before fetching starts, so every message of these partitions takes the message queue.
            forwardToMessageQueue(rk, partitions)
            if cooperative {
                if let error = rd_kafka_incremental_assign(rk, list) {
                    logger.error("\(KafkaError(consuming: error, context: "KafkaConsumer.rebalance assign"))")
                }
            } else {
                let assignErr = rd_kafka_assign(rk, list)
                if assignErr != RD_KAFKA_RESP_ERR_NO_ERROR {
                    logger.error("\(KafkaError(assignErr, context: "KafkaConsumer.rebalance assign"))")
                }
            }
            state.withLock { state in
                if cooperative { state.assignment.formUnion(partitions) } else { state.assignment = Set(partitions) }
            }
            logger.debug("assigned \(partitions.sorted())")
            rebalanceContinuation.yield(.assigned(partitions.sorted()))

        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            let lost = rd_kafka_assignment_lost(rk) != 0
            if !lost {
                // Hand over cleanly: what the caller finished is committed before the partitions go.
                // Asynchronous, because a blocking commit inside a rebalance can wait on the
                // rebalance itself; librdkafka finishes outstanding commits before leaving.
                _ = rd_kafka_commit(rk, nil, 1)
            }
            buffer.removeMessages(of: Set(partitions))
            if cooperative {
                if let error = rd_kafka_incremental_unassign(rk, list) {
                    logger.error("\(KafkaError(consuming: error, context: "KafkaConsumer.rebalance unassign"))")
                }
            } else {
                _ = rd_kafka_assign(rk, nil)
            }
            state.withLock { state in
                if cooperative { state.assignment.subtract(partitions) } else { state.assignment = [] }
                for partition in partitions { state.stored[partition] = nil }
            }
            logger.debug("\(lost ? "lost" : "revoked") \(partitions.sorted())")
            rebalanceContinuation.yield(lost ? .lost(partitions.sorted()) : .revoked(partitions.sorted()))

        default:
            logger.error("\(KafkaError(err, context: "KafkaConsumer.rebalance"))")
            _ = rd_kafka_assign(rk, nil)
            state.withLock { state in
                state.assignment = []
                state.stored = [:]
            }
        }
    }

    /// How leaving the group ended.
    private enum Leaving {
        /// Left; the handle may be destroyed.
        case closed
        /// librdkafka refused to start the close (a fatal error, or closed already); destroying
        /// the handle does not wait then.
        case refused
        /// No answer within `closeTimeout`: destroying the handle would close it again and wait
        /// as long, so it is left for the process's exit.
        case timedOut
    }

    /// Leaves the group as `rd_kafka_consumer_close` does, serving the revocation, but for at
    /// most `closeTimeout`.
    private func leaveGroup(_ rk: OpaquePointer, failures: inout [KafkaError]) -> Leaving {
        guard let closeQueue = rd_kafka_queue_new(rk) else {
            failures.append(KafkaError.state("no queue for closing", context: "KafkaConsumer.close"))
            return .refused
        }
        // librdkafka keeps its own references: what it posts after this is dropped.
        defer { rd_kafka_queue_destroy(closeQueue) }
        if let error = rd_kafka_consumer_close_queue(rk, closeQueue) {
            failures.append(KafkaError(consuming: error, context: "KafkaConsumer.close"))
            return .refused
        }
        let deadline = ContinuousClock.now.advanced(by: closeTimeout)
        while rd_kafka_consumer_closed(rk) == 0 {
            guard ContinuousClock.now < deadline else {
                failures.append(
                    KafkaError(
                        code: .timedOut, message: "the group coordinator did not answer within \(closeTimeout)",
                        context: "KafkaConsumer.close"))
                return .timedOut
            }
            // Runs the revocation's rebalance callback, like rd_kafka_consumer_close. Not
            // rd_kafka_queue_poll_callback: what the consumer queue still held moves to this
            // queue, messages included, and that call aborts on a message it has no callback for.
            if let message = rd_kafka_consume_queue(closeQueue, 100) {
                rd_kafka_message_destroy(message)
            }
        }
        return .closed
    }

    /// Commits what was stored, leaves the group, destroys the handle and wakes `close()` callers.
    private func teardown() {
        let rk = handle.pointer
        buffer.finish()
        // No store, commit or metadata call may start from here on. Running stores end in
        // microseconds and are waited for, so what they store is in the final commit; a commit or
        // metadata call waiting for a broker that does not answer (up to `commitTimeout`) is not:
        // the close runs beside it, and only the destroy below waits for it.
        liveness.withLock { $0.usable = false }
        let storesDeadline = ContinuousClock.now.advanced(by: .milliseconds(200))
        while liveness.withLock({ $0.users > 0 }) && ContinuousClock.now < storesDeadline {
            usleep(1000)
        }
        // Everything stored so far is committed before the group hears we leave: the commit is
        // asynchronous (a blocking one could wait on a pending rebalance nobody serves any more),
        // and rd_kafka_consumer_close waits for it, serving its result and the revocation.
        lastCommitError = nil
        var failures: [KafkaError] = []
        let commitErr = rd_kafka_commit(rk, nil, 1)
        if commitErr != RD_KAFKA_RESP_ERR_NO_ERROR, commitErr != RD_KAFKA_RESP_ERR__NO_OFFSET {
            failures.append(KafkaError(commitErr, context: "KafkaConsumer.close commit"))
        }
        // Leaves the group now (running the revoke callback) instead of waiting for a session timeout.
        let leaving = leaveGroup(rk, failures: &failures)
        if let lastCommitError { failures.append(lastCommitError) }
        // A commit lost to a rebalance only means the next owner reads those messages again;
        // close reports what the caller could act on.
        var result: Result<Void, KafkaError> = .success(())
        for failure in failures {
            if failure.isRetriable {
                logger.warning("closing: \(failure)")
            } else if case .success = result {
                result = .failure(failure)
            }
        }
        if leaving == .timedOut {
            // Destroying it would close it again and wait as long: the handle, its threads and
            // its callbacks stay until the process exits.
            logger.error(
                "the consumer could not leave its group within \(closeTimeout) (no coordinator answers); left unclosed, the group drops it after session.timeout.ms")
        } else {
            while liveness.withLock({ $0.users > 0 }) {
                usleep(1000)
            }
            rd_kafka_queue_destroy(messageQueue.pointer)
            handle.destroy()
        }
        handle.callbacks.onRebalance = nil
        handle.callbacks.onCommit = nil
        handle.callbacks.onError = nil
        worker.stop()
        rebalanceContinuation.finish()
        let waiters = state.withLock { state in
            state.phase = .closed
            state.closeResult = result
            defer { state.closeWaiters.removeAll() }
            return state.closeWaiters
        }
        for waiter in waiters { waiter.resume(returning: result) }
        logger.debug("consumer closed")
    }
}
