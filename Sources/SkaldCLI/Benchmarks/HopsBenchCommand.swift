import ArgumentParser
import Foundation
import Logging
import SkaldExamples
import SkaldKafka
import Synchronization

/// `skald bench hops`: what the Kafka cluster alone adds to a saga's latency.
///
/// A PlaceOrder saga is ten Kafka legs: the order's event, then a command and a reply for
/// each of its steps. Here messages travel the same number of legs and do nothing else: a
/// driver publishes chains at a steady rate, and relays, each a consumer and a producer of its
/// own configured like the demo's, pass every message on to the next relay's topic at once,
/// until its last leg ends. No Postgres, no JSON, no saga: the latency of a chain is the
/// clients' and the broker's share of a saga's, which no change to the saga system can take
/// away. Where the mock broker's thread is busy (1,000 chains/s) it can be more than a saga
/// system pays: relays that pass each message on at once make more, smaller message sets for
/// the mock to walk than services whose transactions gather what arrives meanwhile
/// (docs/benchmarks-e2e.md, session 30).
struct HopsBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hops",
        abstract: "Latency of messages relayed through Kafka leg after leg with no work between: the floor under a saga's latency."
    )

    @Option(help: "Kafka legs per chain (a PlaceOrder saga's are ten).")
    var legs = 10

    @Option(help: "Chains started per second.")
    var rate = 1_000

    @Option(help: "Seconds to start chains for.")
    var seconds = 10

    @Option(help: "Relays the legs go round: each is a consumer group of its own with its own producer.")
    var relays = 2

    @Option(help: "Partitions of every relay's topic.")
    var partitions = 8

    @Option(help: "Bytes of every message's value (at least 13); a PlaceOrder command or reply is about half a kilobyte with its headers.")
    var size = 512

    @Flag(help: "Start chains at random moments, a Poisson process of the rate (the same moments every run), instead of evenly spaced.")
    var randomArrivals = false

    @Option(help: "Kafka bootstrap servers; without it an in-process mock cluster of one broker, as `skald demo` starts.")
    var kafka: String?

    @Option(help: "Extra librdkafka property for every client, as key=value (repeatable); SKALD_KAFKA_PROPERTIES applies too.")
    var property: [String] = []

    func validate() throws {
        guard legs > 0, rate > 0, seconds > 0, relays > 0, partitions > 0 else {
            throw ValidationError("--legs, --rate, --seconds, --relays and --partitions must be positive")
        }
        guard size >= ChainMessage.encodedSize else { throw ValidationError("--size must be at least \(ChainMessage.encodedSize)") }
        guard legs <= Int(UInt8.max) else { throw ValidationError("--legs must be at most \(UInt8.max)") }
    }

    func run() async throws {
        let result = try await measure { print($0) }
        let latencies = result.latencies
        print(String(format: "started %d chains in %.2f s (%.0f/s); %d arrived", result.started, result.drivingSeconds, Double(result.started) / result.drivingSeconds, latencies.count))
        if latencies.count < result.started { print("  \(result.started - latencies.count) chains did not arrive within 30 s of the last start") }
        print(String(format: "chain latency     p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms", result.percentile(0.5), result.percentile(0.9), result.percentile(0.99), latencies.last ?? 0))
        print(String(format: "per leg (p50 / %d) %.2f ms", legs, result.percentile(0.5) / Double(legs)))
        let cpu = result.cpu
        print(String(format: "process CPU       %.0f µs per chain, %.2f cores", cpu.process * 1e6 / Double(max(1, latencies.count)), cpu.process / result.measuredSeconds))
        if let kafka = cpu.kafkaLine(per: max(1, latencies.count), unit: "chain") { print("  \(kafka)") }
        print(String(format: "  the mock broker's thread: %.2f cores", cpu.kafkaMock / result.measuredSeconds))
    }

    /// Runs the chains and returns what they took; `say` gets the lines worth showing meanwhile.
    func measure(say: (String) -> Void) async throws -> HopsResult {
        var logger = Logger(label: "skald.bench.hops")
        // SKALD_BENCH_LOG=debug with `--property debug=fetch` shows librdkafka's own timeline.
        logger.logLevel = ProcessInfo.processInfo.environment["SKALD_BENCH_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .error
        let runID = UUID().uuidString.prefix(8).lowercased()
        let topics = (0..<relays).map { "hops-\(runID)-\($0)" }
        let cluster = kafka == nil ? try MockCluster(brokers: 1) : nil
        defer { cluster?.shutdown() }
        for topic in topics { try cluster?.createTopic(topic, partitions: partitions) }
        // The demo's and `skald bench e2e`'s settings, so the floor is theirs.
        let configuration = try KafkaSettings.demo(
            bootstrapServers: kafka ?? cluster?.bootstrapServers ?? "", properties: property)
        say("\(relays) relays over \(topics.count) topics × \(partitions) partitions on \(kafka ?? "an in-process mock cluster")")
        say("\(rate) chains/s\(randomArrivals ? " at random moments" : ", evenly spaced,") for \(seconds) s, \(legs) legs each, \(size)-byte messages; fetch.wait.max.ms=\(configuration["fetch.wait.max.ms"] ?? "librdkafka's default"), linger.ms=\(configuration["linger.ms"] ?? "0")")

        let arrivals = ChainArrivals()
        let producers = try topics.indices.map { _ in try KafkaProducer(configuration: configuration, logger: logger) }
        let consumers = try topics.indices.map { index in
            var own = configuration
            own.groupID = "hops-\(runID)-\(index)"
            return try KafkaConsumer(configuration: own, topics: [topics[index]], logger: logger)
        }
        let relaying = Task {
            try await withThrowingDiscardingTaskGroup { group in
                for index in topics.indices {
                    let relay = ChainRelay(
                        consumer: consumers[index], producer: producers[index],
                        nextTopic: topics[(index + 1) % topics.count], arrivals: arrivals)
                    group.addTask { try await relay.run() }
                }
            }
        }
        defer { relaying.cancel() }

        let driver = try KafkaProducer(configuration: configuration, logger: logger)
        // One chain first: it ends once every relay's group has its partitions, so the
        // measured chains do not wait for Kafka's assignments.
        let clock = ContinuousClock()
        let joinStart = clock.now
        try await arrivals.awaitChain(0, timeout: .seconds(60)) {
            _ = try await driver.send(ChainMessage(chain: 0, legsLeft: UInt8(legs), size: size).outgoing(topic: topics[0]))
        }
        say(String(format: "first chain through after %.2f s (the groups' joins)", (clock.now - joinStart).inSeconds))

        let cpuBefore = CPUTime.now(postmaster: nil)
        let total = rate * seconds
        let start = clock.now
        let moments = startMoments(count: total)
        try await withThrowingDiscardingTaskGroup { group in
            var started = 0
            while started < total {
                let elapsed = (clock.now - start).inSeconds
                var due = started
                while due < total && moments[due] <= elapsed { due += 1 }
                if due > started {
                    let batch = (started..<due).map {
                        ChainMessage(chain: UInt32($0 + 1), legsLeft: UInt8(legs), size: size).outgoing(topic: topics[0])
                    }
                    started = due
                    group.addTask { _ = try await driver.send(batch) }
                }
                if started < total { try await Task.sleep(until: start + .seconds(moments[started]), clock: clock) }
            }
        }
        let drivingTime = clock.now - start
        _ = await arrivals.awaitCount(total + 1, timeout: .seconds(30))
        let cpu = CPUTime.now(postmaster: nil) - cpuBefore
        let measuredTime = clock.now - start
        relaying.cancel()
        for consumer in consumers { try? await consumer.close() }
        for producer in producers { await producer.shutdown() }
        await driver.shutdown()
        return HopsResult(
            started: total, latencies: arrivals.latencies(excludingChain: 0).sorted(),
            drivingSeconds: drivingTime.inSeconds, measuredSeconds: measuredTime.inSeconds, cpu: cpu)
    }
}

extension HopsBenchCommand {
    /// When each of `count` chains starts, in seconds from the first: every 1/rate seconds, or
    /// with ``randomArrivals`` gaps drawn from the exponential distribution of the same mean,
    /// from a fixed seed.
    func startMoments(count: Int) -> [Double] {
        guard randomArrivals else { return (0..<count).map { Double($0) / Double(rate) } }
        var generator = SplitMix64(seed: 30)
        var moment = 0.0
        return (0..<count).map { _ in
            defer { moment += -log(1 - Double.random(in: 0..<1, using: &generator)) / Double(rate) }
            return moment
        }
    }
}

/// What `skald bench hops` measured.
struct HopsResult {
    /// Chains started after the first (which waited for the groups' joins).
    var started: Int
    /// The latency of every chain that arrived, in milliseconds, shortest first.
    var latencies: [Double]
    /// From the first chain started to the last.
    var drivingSeconds: Double
    /// From the first chain started to the last arrival (or giving up on it), over which ``cpu`` counts.
    var measuredSeconds: Double
    /// The CPU the process took meanwhile: clients, relays and the in-process mock broker.
    var cpu: CPUTime

    /// The latency below which `fraction` of the arrived chains' lie, in milliseconds; 0 without any.
    func percentile(_ fraction: Double) -> Double {
        ConsistencyCheck.percentile(latencies, fraction)
    }
}

/// The message of one chain: its number, the legs it has still to go and when it started,
/// padded to the benchmark's message size.
private struct ChainMessage {
    /// The bytes of the fields; the rest of a value is padding.
    static let encodedSize = 13

    var chain: UInt32
    var legsLeft: UInt8
    var size: Int
    var startNanoseconds: UInt64 = MonotonicClock.nanoseconds()

    init(chain: UInt32, legsLeft: UInt8, size: Int) {
        self.chain = chain
        self.legsLeft = legsLeft
        self.size = size
    }

    /// Reads a message this benchmark wrote; nil for anything else.
    init?(_ bytes: [UInt8]) {
        guard bytes.count >= Self.encodedSize else { return nil }
        chain = Self.read(bytes, at: 0, as: UInt32.self)
        legsLeft = bytes[4]
        startNanoseconds = Self.read(bytes, at: 5, as: UInt64.self)
        size = bytes.count
    }

    /// The message for `topic`, keyed by the chain so its legs spread over the partitions.
    func outgoing(topic: String) -> KafkaOutgoingMessage {
        var bytes = [UInt8]()
        bytes.reserveCapacity(size)
        withUnsafeBytes(of: chain.littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(legsLeft)
        withUnsafeBytes(of: startNanoseconds.littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: repeatElement(0x2e, count: size - bytes.count))
        return KafkaOutgoingMessage(topic: topic, key: Array(bytes[0..<4]), value: bytes)
    }

    private static func read<Integer: FixedWidthInteger>(_ bytes: [UInt8], at offset: Int, as: Integer.Type) -> Integer {
        var value = Integer.zero
        withUnsafeMutableBytes(of: &value) { $0.copyBytes(from: bytes[offset..<offset + MemoryLayout<Integer>.size]) }
        return Integer(littleEndian: value)
    }
}

/// One relay: takes the messages of its topic and passes each on to the next topic with one
/// leg fewer to go, or records the chain's arrival when that was its last leg.
private struct ChainRelay: Sendable {
    let consumer: KafkaConsumer
    let producer: KafkaProducer
    let nextTopic: String
    let arrivals: ChainArrivals

    func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            while let batch = try await consumer.nextBatch(maxCount: 500) {
                var onward: [KafkaOutgoingMessage] = []
                for message in batch {
                    guard var chain = ChainMessage(message.value), chain.legsLeft > 0 else { continue }
                    chain.legsLeft -= 1
                    if chain.legsLeft == 0 {
                        arrivals.record(chain: chain.chain, startNanoseconds: chain.startNanoseconds)
                    } else {
                        onward.append(chain.outgoing(topic: nextTopic))
                    }
                }
                try consumer.storeOffsets(for: batch)
                // Sent without holding up the next batch, as an outbox relay sends apart from the
                // consumer; delivery is awaited so a failure ends the run.
                if !onward.isEmpty {
                    group.addTask {
                        for result in try await producer.send(onward) { _ = try result.get() }
                    }
                }
            }
        }
    }
}

/// The chains that arrived, with their latencies in milliseconds; waited on by the driver.
private final class ChainArrivals: Sendable {
    private let latencyByChain = Mutex<[UInt32: Double]>([:])

    /// Notes that `chain` ended now; a chain seen again (a redelivery) keeps its first arrival.
    func record(chain: UInt32, startNanoseconds: UInt64) {
        let milliseconds = Double(MonotonicClock.nanoseconds() &- startNanoseconds) / 1e6
        latencyByChain.withLock { latencies in
            if latencies[chain] == nil { latencies[chain] = milliseconds }
        }
    }

    /// The latencies in milliseconds of every chain but `excluded`.
    func latencies(excludingChain excluded: UInt32) -> [Double] {
        latencyByChain.withLock { latencies in latencies.filter { $0.key != excluded }.map(\.value) }
    }

    /// Runs `send` again every 2 s until `chain` arrived, for at most `timeout`.
    func awaitChain(_ chain: UInt32, timeout: Duration, send: () async throws -> Void) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            try await send()
            for _ in 0..<200 {
                if latencyByChain.withLock({ $0[chain] != nil }) { return }
                try await Task.sleep(for: .milliseconds(10))
            }
        }
        throw ValidationError("no chain got through the relays within \(timeout)")
    }

    /// Waits until `count` chains arrived or `timeout` passed; true when they all did.
    func awaitCount(_ count: Int, timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if latencyByChain.withLock({ $0.count >= count }) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return latencyByChain.withLock { $0.count >= count }
    }
}

/// The monotonic clock as nanoseconds, which a message can carry (an `Instant` cannot).
private enum MonotonicClock {
    static func nanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }
}
