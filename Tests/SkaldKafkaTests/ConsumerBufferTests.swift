@testable import SkaldKafka
import Testing

@Suite struct ConsumerBufferTests {
    private func messages(_ range: Range<Int>, partition: Int32 = 0) -> [KafkaMessage] {
        range.map { KafkaMessage(topic: "t", partition: partition, offset: Int64($0), value: Array("\($0)".utf8)) }
    }

    @Test func aFullBufferGivesThePollThreadNoRoom() async throws {
        let buffer = ConsumerBuffer(capacity: 10)
        #expect(buffer.waitForSpace(timeout: 0) == 10)
        buffer.push(messages(0..<10))
        #expect(buffer.waitForSpace(timeout: 0.01) == 0)
        let taken = try #require(try await buffer.take(maxCount: 4))
        #expect(taken.map(\.offset) == [0, 1, 2, 3])
        #expect(buffer.waitForSpace(timeout: 0) == 4)
        let rest = try #require(try await buffer.take(maxCount: 100))
        #expect(rest.map(\.offset) == Array(4..<10))
    }

    @Test func takeSpansChunksInOrder() async throws {
        let buffer = ConsumerBuffer(capacity: 100)
        buffer.push(messages(0..<3))
        buffer.push(messages(3..<5))
        buffer.push(messages(5..<9))
        let first = try #require(try await buffer.take(maxCount: 4))
        let second = try #require(try await buffer.take(maxCount: 4))
        let third = try #require(try await buffer.take(maxCount: 4))
        #expect((first + second + third).map(\.offset) == Array(0..<9))
    }

    @Test func aWaitingReaderWakesOnPush() async throws {
        let buffer = ConsumerBuffer(capacity: 10)
        async let taken = buffer.take(maxCount: 10)
        try await Task.sleep(for: .milliseconds(50))
        buffer.push(messages(0..<2))
        #expect(try await taken?.count == 2)
    }

    @Test func revokedPartitionsAreDropped() async throws {
        let buffer = ConsumerBuffer(capacity: 100)
        buffer.push(messages(0..<3, partition: 0) + messages(0..<3, partition: 1))
        buffer.removeMessages(of: [KafkaTopicPartition(topic: "t", partition: 0)])
        let taken = try #require(try await buffer.take(maxCount: 100))
        #expect(taken.allSatisfy { $0.partition == 1 })
        #expect(taken.count == 3)
    }

    @Test func finishDeliversTheErrorOnceThenEnds() async throws {
        let buffer = ConsumerBuffer(capacity: 10)
        buffer.push(messages(0..<2))
        buffer.finish(error: KafkaError(code: .fatal, message: "boom", context: "test"))
        #expect(buffer.waitForSpace(timeout: 0) == 0)
        let error = await #expect(throws: KafkaError.self) { _ = try await buffer.take(maxCount: 10) }
        #expect(error?.isFatal == true)
        #expect(try await buffer.take(maxCount: 10) == nil)
    }

    @Test func cancellationEndsAWaitingReader() async throws {
        let buffer = ConsumerBuffer(capacity: 10)
        let reader = Task { try await buffer.take(maxCount: 10) }
        try await Task.sleep(for: .milliseconds(50))
        reader.cancel()
        #expect(try await reader.value == nil)
    }
}
