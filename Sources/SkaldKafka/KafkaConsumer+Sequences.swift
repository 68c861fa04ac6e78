/// An `AsyncSequence` of single consumed messages; see ``KafkaConsumer/messages``.
public struct KafkaMessageSequence: AsyncSequence, Sendable {
    /// Consumed messages.
    public typealias Element = KafkaMessage
    /// Only fatal client errors end the sequence with an error.
    public typealias Failure = KafkaError

    let core: ConsumerCore

    /// Iterates messages, taking them from the consumer's buffer a chunk at a time.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let core: ConsumerCore
        var pending: [KafkaMessage] = []
        var index = 0

        /// The next message, or `nil` once the consumer is closed.
        public mutating func next() async throws(KafkaError) -> KafkaMessage? {
            if index == pending.count {
                guard let chunk = try await core.buffer.take(maxCount: 256) else { return nil }
                pending = chunk
                index = 0
            }
            defer { index += 1 }
            return pending[index]
        }
    }

    /// Starts iterating.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(core: core)
    }
}

/// An `AsyncSequence` of message batches; see ``KafkaConsumer/batches(maxCount:)``.
public struct KafkaBatchSequence: AsyncSequence, Sendable {
    /// A non-empty batch of consumed messages.
    public typealias Element = [KafkaMessage]
    /// Only fatal client errors end the sequence with an error.
    public typealias Failure = KafkaError

    let core: ConsumerCore
    let maxCount: Int

    /// Iterates batches of at most `maxCount` messages.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let core: ConsumerCore
        let maxCount: Int

        /// The next batch, or `nil` once the consumer is closed.
        public mutating func next() async throws(KafkaError) -> [KafkaMessage]? {
            try await core.buffer.take(maxCount: maxCount)
        }
    }

    /// Starts iterating.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(core: core, maxCount: maxCount)
    }
}
