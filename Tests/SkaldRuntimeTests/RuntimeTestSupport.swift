import Foundation
import Logging
import Skald
import SkaldKafka
import SkaldPostgres
import SkaldRuntime
import ServiceLifecycle
import SkaldTestSupport
import Synchronization
import Testing
import Tracing

/// Logs quiet unless SKALD_RUNTIME_TEST_LOG is set.
let runtimeTestLogger: Logger = {
    var logger = Logger(label: "skald.runtime.test")
    logger.logLevel = ProcessInfo.processInfo.environment["SKALD_RUNTIME_TEST_LOG"] == nil ? .critical : .debug
    return logger
}()

/// The messages of `topic`, read by a new consumer group: at least `expecting` (within 20 s),
/// then whatever else comes within a second, so that a test sees copies too.
func consumeAll(_ cluster: MockCluster, topic: String, expecting: Int) async throws -> [KafkaMessage] {
    var configuration = mockKafka(cluster)
    configuration.groupID = "consume-\(UUID().uuidString.prefix(8))"
    let consumer = try KafkaConsumer(configuration: configuration, topics: [topic])
    let reading = Task {
        var messages: [KafkaMessage] = []
        while let batch = try await consumer.nextBatch(maxCount: 10) {
            messages += batch
            if messages.count >= expecting { break }
        }
        return messages
    }
    let deadline = Task {
        try await Task.sleep(for: .seconds(20))
        reading.cancel()
    }
    var messages = try await reading.value
    deadline.cancel()
    let more = Task { try await consumer.nextBatch(maxCount: 10) }
    try await Task.sleep(for: .seconds(1))
    more.cancel()
    messages += try await more.value ?? []
    try await consumer.close()
    return messages
}

/// A mock Kafka cluster with the topics the transfer saga uses.
func transferCluster() throws -> MockCluster {
    let cluster = try MockCluster(brokers: 1)
    for topic in TransferTopics.all + ["skald.replies", "skald.dead-letter", "skald.saga-events"] {
        try cluster.createTopic(topic, partitions: 4)
    }
    return cluster
}

/// Kafka settings for the mock: the DESIGN's measured-good values.
func mockKafka(_ cluster: MockCluster) -> KafkaConfiguration {
    var configuration = KafkaConfiguration(bootstrapServers: cluster.bootstrapServers)
    configuration.sessionTimeout = .seconds(6)
    configuration.fetchWaitMax = .milliseconds(5)
    configuration["heartbeat.interval.ms"] = "500"
    return configuration
}

/// The participants of the transfer saga: they apply each command once (deduped by
/// `ce_id`), keep a ledger of effects, and reply as the payload asks.
final class TransferParticipants: Sendable {
    /// Effects applied, by "transferId/effect".
    private let ledger = Mutex<[String: Int]>([:])
    private let applied = Mutex<Set<String>>([])
    /// Message types never answered (a participant that went silent); ``answer(_:)`` lifts it.
    private let silenced: Mutex<Set<String>>
    var silentFor: Set<String> { silenced.withLock { $0 } }
    /// Message types answered only after this long (a slow participant).
    let delays: [String: Duration]
    /// Each reply is sent again with the same id, and once more with another id.
    let duplicateReplies: Bool
    /// Replies to these command types are delayed by a random 0–50 ms each.
    let jitter: Bool
    private let redeliveries = Atomic<Int>(0)
    private let traces = Mutex<[String: String]>([:])
    /// Replies go out under a span of their own, a child of the command's trace context,
    /// through the bootstrapped instrument (as a participant using swift-distributed-tracing
    /// does); otherwise replies carry no trace context.
    let tracesReplies: Bool

    /// The `traceparent` the command of `messageType` to saga `sagaId` carried.
    func traceparent(sagaId: String, command messageType: String) -> String? {
        traces.withLock { $0["\(sagaId)/\(messageType)"] }
    }

    init(
        silentFor: Set<String> = [], delays: [String: Duration] = [:], duplicateReplies: Bool = false, jitter: Bool = false,
        tracesReplies: Bool = false
    ) {
        self.tracesReplies = tracesReplies
        self.silenced = Mutex(silentFor)
        self.delays = delays
        self.duplicateReplies = duplicateReplies
        self.jitter = jitter
    }

    func effects(_ transferId: String, _ effect: String) -> Int {
        ledger.withLock { $0["\(transferId)/\(effect)", default: 0] }
    }

    /// The participant behind `messageType` recovers: from now on it answers.
    func answer(_ messageType: String) {
        _ = silenced.withLock { $0.remove(messageType) }
    }

    var totalRedeliveries: Int { redeliveries.load(ordering: .relaxed) }

    /// Consumes commands and replies until cancelled.
    func run(kafka: KafkaConfiguration, group: String) async throws {
        var consumerConfiguration = kafka
        consumerConfiguration.groupID = group
        let consumer = try KafkaConsumer(configuration: consumerConfiguration, topics: TransferTopics.all, logger: runtimeTestLogger)
        let producer = try KafkaProducer(configuration: kafka, logger: runtimeTestLogger)
        defer {
            Task {
                try? await consumer.close()
                await producer.shutdown()
            }
        }
        try await withTaskCancellationHandler {
            while let batch = try await consumer.nextBatch(maxCount: 500) {
                var replies: [KafkaOutgoingMessage] = []
                for message in batch {
                    guard let (type, reply) = try handle(message) else { continue }
                    var copies = [reply]
                    if duplicateReplies {
                        var another = reply
                        another.headers = KafkaHeaders(
                            reply.headers.map { header in
                                header.name == "ce_id" ? KafkaHeader(name: "ce_id", value: "again:" + (header.stringValue ?? "")) : header
                            })
                        copies += [reply, another]
                    }
                    var delay = delays[type] ?? .zero
                    if jitter { delay += .milliseconds(Int.random(in: 0...50)) }
                    if delay > .zero {
                        // Answer later, out of order with the rest of the batch.
                        Task {
                            try await Task.sleep(for: delay)
                            for result in try await producer.send(copies) { _ = try result.get() }
                        }
                    } else {
                        replies += copies
                    }
                }
                if !replies.isEmpty {
                    for result in try await producer.send(replies) { _ = try result.get() }
                }
                try consumer.storeOffsets(for: batch)
                try await consumer.commit()
            }
        } onCancel: {
            Task { try? await consumer.close() }
        }
    }

    private func handle(_ message: KafkaMessage) throws -> (commandType: String, reply: KafkaOutgoingMessage)? {
        let command = try MessageEnvelope(headers: message.headers.map { ($0.name, $0.value ?? []) })
        if let trace = command.traceparent, let sagaId = command.sagaId {
            traces.withLock { $0["\(sagaId)/\(command.type)"] = trace }
        }
        if silentFor.contains(command.type) { return nil }
        let decoder = JSONDecoder()
        let body = Data(message.value)
        let firstTime = applied.withLock { $0.insert(command.id).inserted }
        if !firstTime { redeliveries.add(1, ordering: .relaxed) }
        func effect(_ transferId: String, _ name: String) {
            if firstTime { ledger.withLock { $0["\(transferId)/\(name)", default: 0] += 1 } }
        }
        let reply: (type: String, json: Data)
        switch command.type {
        case Debit.messageType:
            let debit = try decoder.decode(Debit.self, from: body)
            if debit.decline {
                reply = (DebitDeclined.messageType, try JSONEncoder().encode(DebitDeclined(transferId: debit.transferId)))
            } else {
                effect(debit.transferId, "debit")
                reply = (Debited.messageType, try JSONEncoder().encode(Debited(transferId: debit.transferId)))
            }
        case Refund.messageType:
            let refund = try decoder.decode(Refund.self, from: body)
            effect(refund.transferId, "refund")
            reply = (Refunded.messageType, try JSONEncoder().encode(Refunded(transferId: refund.transferId)))
        case Credit.messageType:
            let credit = try decoder.decode(Credit.self, from: body)
            if credit.decline {
                reply = (CreditDeclined.messageType, try JSONEncoder().encode(CreditDeclined(transferId: credit.transferId)))
            } else {
                effect(credit.transferId, "credit")
                reply = (Credited.messageType, try JSONEncoder().encode(Credited(transferId: credit.transferId)))
            }
        case Notify.messageType:
            let notify = try decoder.decode(Notify.self, from: body)
            effect(notify.transferId, "notify")
            reply = (Notified.messageType, try JSONEncoder().encode(Notified(transferId: notify.transferId)))
        default:
            return nil
        }
        let envelope = MessageEnvelope(
            id: "reply:\(command.id)", source: "test-participant", type: reply.type, time: Date(),
            sagaId: command.sagaId, sagaType: command.sagaType, sagaStep: command.sagaStep, causationId: command.id
        )
        var headers = KafkaHeaders(envelope)
        if tracesReplies {
            let instrument = InstrumentationSystem.instrument
            var context = ServiceContext.topLevel
            instrument.extract(message.headers, into: &context, using: KafkaHeadersExtractor())
            InstrumentationSystem.tracer.withSpan("\(command.type) process", context: context, ofKind: .consumer) { span in
                instrument.inject(span.context, into: &headers, using: KafkaHeadersInjector())
            }
        }
        return (
            command.type,
            KafkaOutgoingMessage(topic: "skald.replies", key: message.key, value: Array(reply.json), headers: headers)
        )
    }
}

/// Runs `body` with an orchestrator and the participants running against `store` (a fresh one
/// when nil).
func withTransferSystem(
    definition: SagaDefinition<TransferState> = transferSaga(),
    participants: TransferParticipants = TransferParticipants(),
    circuitBreaker: CircuitBreaker.Policy = CircuitBreaker.Policy(),
    projections: [any SagaProjection] = [],
    store: String? = nil,
    _ body: (Orchestrator, String, MockCluster) async throws -> Void
) async throws {
    let url: String
    if let store { url = store } else { url = try await TestPostgres.freshStore("rt") }
    let cluster = try transferCluster()
    defer { cluster.shutdown() }
    var registry = SagaRegistry()
    try registry.register(definition)
    var configuration = OrchestratorConfiguration(kafka: mockKafka(cluster), postgresURL: url)
    configuration.groupID = "orchestrator-\(UUID().uuidString.prefix(8))"
    configuration.circuitBreaker = circuitBreaker
    let orchestrator = try Orchestrator(
        registry: registry, configuration: configuration, projections: projections, logger: runtimeTestLogger)
    let kafka = mockKafka(cluster)
    let running = Task { try await orchestrator.run() }
    let participating = Task { try await participants.run(kafka: kafka, group: "participants-\(UUID().uuidString.prefix(8))") }
    defer {
        running.cancel()
        participating.cancel()
    }
    try await body(orchestrator, url, cluster)
    running.cancel()
    participating.cancel()
    _ = await running.result
    _ = await participating.result
}

/// Services running in a `ServiceGroup` of their own, for tests that stop them gracefully.
final class RunningServices: Sendable {
    /// Whether the group's run has returned.
    private final class Ended: Sendable {
        let flag = Atomic<Bool>(false)
    }

    private let group: ServiceGroup
    private let running: Task<Void, any Error>
    private let ended = Ended()

    /// Starts `services`.
    init(_ services: [any Service]) {
        let group = ServiceGroup(services: services, logger: runtimeTestLogger)
        let ended = self.ended
        self.group = group
        running = Task {
            defer { ended.flag.store(true, ordering: .releasing) }
            try await group.run()
        }
    }

    /// Stops them gracefully. A stop that hangs (on Kafka, say) fails the test after `limit`
    /// instead of hanging it.
    func stop(within limit: Duration = .seconds(60)) async throws {
        await group.triggerGracefulShutdown()
        try await eventually("the services stopped", timeout: limit) { ended.flag.load(ordering: .acquiring) }
        try await running.value
    }
}
