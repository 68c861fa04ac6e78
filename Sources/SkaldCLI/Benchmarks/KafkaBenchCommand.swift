import ArgumentParser
import Foundation
import Logging
import SkaldKafka

/// `skald bench kafka`: produce with delivery reports, then consume through a consumer group,
/// against an in-process mock cluster.
///
/// Producing counts a message only once its delivery report arrived; consuming
/// counts from the first message received (the mock's group join takes about
/// 3 s and is reported separately).
struct KafkaBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kafka",
        abstract: "Measure Kafka produce (with delivery reports) and consume throughput against the mock cluster."
    )

    @Option(help: "How many messages to produce and consume.")
    var messages = 300_000

    @Option(help: "Value size in bytes.")
    var size = 200

    @Option(help: "Partitions of the benchmark topic (the mock keeps only ~5 MiB per partition, so spread big runs).")
    var partitions = 32

    @Option(help: "Mock brokers.")
    var brokers = 3

    @Option(help: "Messages per send batch (one continuation per batch).")
    var batch = 10_000

    @Option(help: "Batches in flight at once.")
    var inFlight = 4

    @Option(help: "Extra librdkafka producer property, as key=value (repeatable).")
    var producerProperty: [String] = []

    mutating func validate() throws {
        guard messages > 0, size >= 0, partitions > 0, brokers > 0, batch > 0, inFlight > 0 else {
            throw ValidationError("--messages, --partitions, --brokers, --batch and --in-flight must be positive, --size not negative")
        }
        let perPartition = Double(messages) * Double(size + 70) / Double(partitions)
        if perPartition > 4.5 * 1024 * 1024 {
            throw ValidationError(
                "about \(Int(perPartition / 1024)) KiB per partition: the mock keeps only ~5 MiB per partition; raise --partitions or lower --messages"
            )
        }
        for property in producerProperty where !property.contains("=") {
            throw ValidationError("--producer-property must look like key=value, got \"\(property)\"")
        }
    }

    func run() async throws {
        var logger = Logger(label: "skald.bench.kafka")
        logger.logLevel = ProcessInfo.processInfo.environment["SKALD_BENCH_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .error
        let cluster = try MockCluster(brokers: brokers)
        defer { cluster.shutdown() }
        let topic = "bench-\(UUID().uuidString.prefix(8))"
        try cluster.createTopic(topic, partitions: partitions)
        print("mock cluster \(cluster.bootstrapServers), topic \(topic): \(partitions) partitions, \(brokers) brokers")
        print("\(messages) messages of \(size) bytes, batches of \(batch), \(inFlight) in flight")

        try await produce(cluster: cluster, topic: topic, logger: logger)
        // Twice, each in a group of its own: with Skald's default prefetch (4 MB), which a reader
        // as fast as this one empties between two looks of librdkafka's fetcher (it looks again
        // only once a second after the prefetch was full, in 2.0.2), and with librdkafka's own
        // 64 MB, which is what the wrapper can do.
        try await consume(cluster: cluster, topic: topic, prefetchKilobytes: nil, logger: logger)
        try await consume(cluster: cluster, topic: topic, prefetchKilobytes: 65_536, logger: logger)
    }

    private func produce(cluster: MockCluster, topic: String, logger: Logger) async throws {
        var configuration = KafkaConfiguration(bootstrapServers: cluster.bootstrapServers)
        configuration.linger = .milliseconds(5)
        configuration["batch.num.messages"] = "10000"
        configuration["batch.size"] = "4000000"
        configuration["queue.buffering.max.messages"] = "2000000"
        configuration["queue.buffering.max.kbytes"] = "2097151"
        for property in producerProperty {
            let parts = property.split(separator: "=", maxSplits: 1).map(String.init)
            configuration[parts[0]] = parts.count > 1 ? parts[1] : ""
        }
        let producer = try KafkaProducer(configuration: configuration, logger: logger)
        _ = try await producer.metadata(topic: topic, timeout: .seconds(10))

        // Warm up: connections to every partition leader and the idempotent producer id.
        _ = try await producer.send((0..<Int32(partitions)).map {
            KafkaOutgoingMessage(topic: topic, partition: $0, key: nil, value: [])
        })

        let value = [UInt8](repeating: 0x61, count: size)
        let batches = stride(from: 0, to: messages, by: batch).map { start in
            // Round-robin over partitions: the mock trims partitions beyond ~5 MiB, and unkeyed
            // messages would otherwise pile up in whichever partition the sticky partitioner picks.
            (start..<min(start + batch, messages)).map {
                KafkaOutgoingMessage(topic: topic, partition: Int32($0 % partitions), value: value)
            }
        }
        let clock = ContinuousClock()
        let start = clock.now
        let failures = try await withThrowingTaskGroup(of: Int.self) { group in
            var next = 0
            var failures = 0
            for _ in 0..<min(inFlight, batches.count) {
                let messages = batches[next]
                next += 1
                group.addTask { try await producer.send(messages).filter { if case .failure = $0 { true } else { false } }.count }
            }
            while let failed = try await group.next() {
                failures += failed
                if next < batches.count {
                    let messages = batches[next]
                    next += 1
                    group.addTask { try await producer.send(messages).filter { if case .failure = $0 { true } else { false } }.count }
                }
            }
            return failures
        }
        let elapsed = clock.now - start
        await producer.shutdown()
        report("produce (delivery reports awaited)", count: messages, elapsed: elapsed)
        if failures > 0 { print("  \(failures) deliveries failed") }
    }

    private func consume(cluster: MockCluster, topic: String, prefetchKilobytes: Int?, logger: Logger) async throws {
        var configuration = KafkaConfiguration(bootstrapServers: cluster.bootstrapServers)
        if let prefetchKilobytes { configuration["queued.max.messages.kbytes"] = String(prefetchKilobytes) }
        configuration.groupID = "bench-\(UUID().uuidString.prefix(8))"
        configuration.sessionTimeout = .seconds(6)
        configuration.fetchWaitMax = .milliseconds(5)
        configuration["fetch.message.max.bytes"] = "4194304"
        configuration.consumerBufferCapacity = 50_000
        if let debug = ProcessInfo.processInfo.environment["SKALD_BENCH_DEBUG"] { configuration["debug"] = debug }
        let consumer = try KafkaConsumer(configuration: configuration, topics: [topic], logger: logger)
        let clock = ContinuousClock()
        let joinStart = clock.now
        let expected = messages + partitions  // the warm-up messages too
        var received = 0
        var firstMessage: ContinuousClock.Instant?
        var perPartition: [Int32: Int] = [:]
        var end = clock.now
        // Stops early if the stream goes quiet for 15 s, so a lost message shows as a count, not a hang.
        while received < expected {
            let next = try await withThrowingTaskGroup(of: [KafkaMessage]?.self) { group in
                group.addTask { try await consumer.nextBatch(maxCount: 5_000) }
                group.addTask {
                    try await Task.sleep(for: .seconds(15))
                    return nil
                }
                let first = try await group.next() ?? nil
                group.cancelAll()
                return first
            }
            guard let batch = next else {
                print("consume: stream quiet for 15 s after \(received) of \(expected) messages")
                print("  received per partition: \(perPartition.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: " "))")
                break
            }
            if firstMessage == nil { firstMessage = clock.now }
            received += batch.count
            for message in batch { perPartition[message.partition, default: 0] += 1 }
            try consumer.storeOffsets(for: batch)
            end = clock.now
        }
        try await consumer.commit()
        try await consumer.close()
        guard let firstMessage else {
            print("consume: nothing received")
            return
        }
        print(String(format: "consume: group join took %.2f s", (firstMessage - joinStart).inSeconds))
        let prefetch = prefetchKilobytes.map { "\($0 / 1024) MB prefetch" } ?? "4 MB prefetch, the default"
        report("consume (consumer group, offsets stored, \(prefetch))", count: received, elapsed: end - firstMessage)
    }

    private func report(_ what: String, count: Int, elapsed: Duration) {
        let seconds = elapsed.inSeconds
        let rate = Double(count) / seconds
        let megabytes = rate * Double(size) / 1_000_000
        print(String(format: "%@: %d messages in %.3f s = %.0f msg/s, %.1f MB/s", what, count, seconds, rate, megabytes))
    }
}
