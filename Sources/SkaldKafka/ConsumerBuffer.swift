import Foundation

/// The bounded hand-over between the consumer's poll thread and the tasks reading messages.
///
/// The poll thread blocks (on its own thread, never the cooperative pool)
/// while the buffer is full, so a slow reader back-pressures fetching instead
/// of growing memory. Readers suspend on a continuation while it is empty.
///
/// Blocking rather than pausing partitions is deliberate: librdkafka before
/// 2.1.0 can skip messages when partitions are paused and resumed repeatedly.
final class ConsumerBuffer: @unchecked Sendable {
    let capacity: Int
    private let condition = NSCondition()
    // Everything below is guarded by `condition`.
    private var chunks: [ArraySlice<KafkaMessage>] = []
    private var head = 0
    private var count = 0
    private var readers: [CheckedContinuation<Void, Never>] = []
    private var finished = false
    private var failure: KafkaError?

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    // MARK: Poll-thread side

    /// Blocks until there is room, up to `timeout`; returns how many messages fit (0 after a timeout or finish).
    func waitForSpace(timeout: TimeInterval) -> Int {
        condition.lock()
        defer { condition.unlock() }
        if count >= capacity && !finished {
            _ = condition.wait(until: Date(timeIntervalSinceNow: timeout))
        }
        return finished ? 0 : max(0, capacity - count)
    }

    /// How many messages wait to be read.
    var bufferedCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return count
    }

    /// Appends messages polled from librdkafka and wakes waiting readers.
    func push(_ messages: [KafkaMessage]) {
        guard !messages.isEmpty else { return }
        condition.lock()
        guard !finished else {
            condition.unlock()
            return
        }
        chunks.append(messages[...])
        count += messages.count
        let waiting = readers
        readers.removeAll()
        condition.unlock()
        for reader in waiting { reader.resume() }
    }

    /// Drops buffered messages of partitions this member no longer owns (their new owner reads them).
    func removeMessages(of partitions: Set<KafkaTopicPartition>) {
        guard !partitions.isEmpty else { return }
        condition.lock()
        defer { condition.unlock() }
        var kept: [ArraySlice<KafkaMessage>] = []
        var keptCount = 0
        for chunk in chunks[head...] {
            let remaining = chunk.filter { !partitions.contains($0.topicPartition) }
            if !remaining.isEmpty {
                kept.append(remaining[...])
                keptCount += remaining.count
            }
        }
        chunks = kept
        head = 0
        count = keptCount
        condition.broadcast()
    }

    /// Ends the stream and drops what is buffered (it was never stored, so it is read again
    /// by whoever owns the partitions next); readers get `error` once, then `nil`.
    func finish(error: KafkaError? = nil) {
        condition.lock()
        if !finished {
            finished = true
            failure = error
            chunks.removeAll()
            head = 0
            count = 0
        }
        let waiting = readers
        readers.removeAll()
        condition.broadcast()
        condition.unlock()
        for reader in waiting { reader.resume() }
    }

    // MARK: Reader side

    /// Takes up to `maxCount` messages, waiting while the buffer is empty.
    ///
    /// Returns `nil` once the consumer is closed and the buffer drained, or when the task is cancelled.
    func take(maxCount: Int) async throws(KafkaError) -> [KafkaMessage]? {
        while true {
            if Task.isCancelled { return nil }
            switch takeAvailable(maxCount: max(1, maxCount)) {
            case .messages(let messages): return messages
            case .finished: return nil
            case .failed(let error): throw error
            case .empty:
                await withTaskCancellationHandler {
                    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                        condition.lock()
                        if count > 0 || finished || Task.isCancelled {
                            condition.unlock()
                            continuation.resume()
                        } else {
                            readers.append(continuation)
                            condition.unlock()
                        }
                    }
                } onCancel: {
                    condition.lock()
                    let waiting = readers
                    readers.removeAll()
                    condition.unlock()
                    for reader in waiting { reader.resume() }
                }
            }
        }
    }

    private enum Taken {
        case messages([KafkaMessage])
        case empty
        case finished
        case failed(KafkaError)
    }

    private func takeAvailable(maxCount: Int) -> Taken {
        condition.lock()
        defer { condition.unlock() }
        guard count > 0 else {
            guard finished else { return .empty }
            if let failure {
                self.failure = nil
                return .failed(failure)
            }
            return .finished
        }
        var taken: [KafkaMessage] = []
        while taken.count < maxCount && head < chunks.count {
            let chunk = chunks[head]
            let wanted = maxCount - taken.count
            if taken.isEmpty && chunk.count <= wanted {
                // The first chunk whole is handed over as it is (an array from a slice of all
                // of its buffer shares that buffer), not copied message by message.
                taken = Array(chunk)
                chunks[head] = []
                head += 1
                continue
            }
            if taken.capacity == 0 { taken.reserveCapacity(min(maxCount, count)) }
            if chunk.count <= wanted {
                taken.append(contentsOf: chunk)
                chunks[head] = []
                head += 1
            } else {
                taken.append(contentsOf: chunk.prefix(wanted))
                chunks[head] = chunk.dropFirst(wanted)
            }
        }
        if head > 64 {
            chunks.removeFirst(head)
            head = 0
        }
        count -= taken.count
        condition.signal()
        return .messages(taken)
    }
}
