import Foundation
import Logging
import SkaldKafka
import Synchronization
import Testing

/// A topic or group name no other test uses.
func uniqueName(_ prefix: String) -> String {
    "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
}

/// Quiet logs unless SKALD_KAFKA_TEST_LOG is set.
let testLogger: Logger = {
    var logger = Logger(label: "skald.kafka.test")
    logger.logLevel = ProcessInfo.processInfo.environment["SKALD_KAFKA_TEST_LOG"].map { Logger.Level(rawValue: $0) ?? .debug } ?? .critical
    return logger
}()

/// Producer settings for the mock: the defaults (no linger), bounded delivery time.
func producerConfiguration(_ cluster: MockCluster) -> KafkaConfiguration {
    var configuration = KafkaConfiguration(bootstrapServers: cluster.bootstrapServers)
    configuration.messageTimeout = .seconds(60)
    return configuration
}

/// Consumer settings for the mock: the DESIGN's measured-good values.
func consumerConfiguration(_ cluster: MockCluster, group: String) -> KafkaConfiguration {
    var configuration = KafkaConfiguration(bootstrapServers: cluster.bootstrapServers)
    configuration.groupID = group
    configuration.sessionTimeout = .seconds(6)
    configuration.fetchWaitMax = .milliseconds(5)
    configuration["heartbeat.interval.ms"] = "500"
    if let debug = ProcessInfo.processInfo.environment["SKALD_KAFKA_TEST_DEBUG"] {
        configuration["debug"] = debug  // librdkafka debug contexts, e.g. "cgrp,fetch"
    }
    return configuration
}

/// Thrown by ``eventually(_:timeout:condition:)`` so a stuck test fails instead of hanging.
struct NeverHappened: Error, CustomStringConvertible {
    let what: String
    var description: String { "never happened: \(what)" }
}

/// Polls `condition` until it holds; a guard against hangs, not a speed assertion.
func eventually(_ what: String, timeout: Duration = .seconds(90), condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now.advanced(by: timeout)
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    throw NeverHappened(what: what)
}

/// Message ids seen by consumers, with how often each was seen.
final class Tally: Sendable {
    private let counts = Mutex<[Int: Int]>([:])

    func record(_ ids: some Sequence<Int>) {
        counts.withLock { counts in
            for id in ids { counts[id, default: 0] += 1 }
        }
    }

    var distinct: Int { counts.withLock { $0.count } }
    var duplicates: Int { counts.withLock { $0.values.reduce(0) { $0 + $1 - 1 } } }
    func missing(from expected: Range<Int>) -> [Int] {
        counts.withLock { counts in expected.filter { counts[$0] == nil } }
    }
}

extension KafkaMessage {
    /// The integer id the tests put in the value.
    var id: Int { Int(valueString) ?? -1 }
}

/// Consumes until the consumer closes, recording ids and committing each batch.
func consumeAndCommit(_ consumer: KafkaConsumer, into tally: Tally, pause: Duration? = nil) async throws {
    while let batch = try await consumer.nextBatch(maxCount: 2000) {
        testLogger.trace("read \(batch.count)")
        if let pause { try await Task.sleep(for: pause) }  // a slow processor
        tally.record(batch.map(\.id))
        do {
            try consumer.storeOffsets(for: batch)
            try await consumer.commit()
            testLogger.trace("committed")
        } catch {
            if error.code == .invalidState { return }  // closed meanwhile
            // A commit during a rebalance fails; the offsets stay stored for the next one.
            guard error.isRetriable else { throw error }
        }
    }
}
