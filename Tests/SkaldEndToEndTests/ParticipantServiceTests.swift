import Foundation
import Logging
import Metrics
import MetricsTestKit
import ServiceLifecycle
import Skald
import SkaldExamples
import SkaldKafka
import SkaldPostgres
import SkaldTestSupport
import Testing

/// One example service in-process, fed commands by hand: idempotency, replies and misbehaviour.
@Suite("Example services: one service fed by hand", .serialized)
struct ParticipantServiceTests {
    /// A payment service on a fresh schema and its own mock cluster.
    struct Fixture {
        let cluster: MockCluster
        let baseURL: String
        let prefix: String
        let schemaURL: String

        init() async throws {
            cluster = try placeOrderCluster()
            baseURL = try TestPostgres.url()
            prefix = "ps" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(8).lowercased() + "_"
            schemaURL = try PostgresSearchPath.url(baseURL, schema: prefix + "payments")
            try await ExampleServices.migrateAll(postgresURL: baseURL, schemaPrefix: prefix)
            let connection = try await PostgresConnection.connect(to: schemaURL)
            try await PaymentService.seed(accounts: ["alice": 10_000, "bob": 100], on: connection)
            await connection.close()
        }

        func service(
            _ behaviour: ServiceBehaviour = ServiceBehaviour(), metrics: any MetricsFactory = MetricsSystem.factory
        ) throws -> ParticipantService<PaymentService> {
            try ParticipantService(
                handler: PaymentService(), configuration: configuration(behaviour), logger: e2eLogger, metricsFactory: metrics)
        }

        func configuration(_ behaviour: ServiceBehaviour) -> ServiceConfiguration {
            ServiceConfiguration(
                kafka: mockKafka(cluster.bootstrapServers), postgresURL: baseURL, schemaPrefix: prefix, behaviour: behaviour)
        }

        /// Sends `message` as command `id` of saga `saga` to payments.commands, `copies` times.
        func send(_ message: some SagaMessage, id: String, saga: String, copies: Int = 1) async throws {
            let producer = try KafkaProducer(configuration: mockKafka(cluster.bootstrapServers), logger: e2eLogger)
            let envelope = MessageEnvelope(
                id: id, source: "test", type: type(of: message).messageType, time: Date(), sagaId: saga,
                sagaType: "PlaceOrder", sagaStep: "process-payment")
            let outgoing = KafkaOutgoingMessage(
                topic: "payments.commands", key: Array(saga.utf8), value: Array(try JSONEncoder().encode(message)),
                headers: KafkaHeaders(envelope))
            for result in try await producer.send(Array(repeating: outgoing, count: copies)) { _ = try result.get() }
            await producer.shutdown()
        }

        /// Sends each `(message, command id, saga)` to payments.commands with Kafka key `key`
        /// (one partition), in one produce call.
        func send(_ commands: [(message: any SagaMessage, id: String, saga: String)], key: String) async throws {
            let producer = try KafkaProducer(configuration: mockKafka(cluster.bootstrapServers), logger: e2eLogger)
            let outgoing = try commands.map { command in
                let envelope = MessageEnvelope(
                    id: command.id, source: "test", type: type(of: command.message).messageType, time: Date(),
                    sagaId: command.saga, sagaType: "PlaceOrder", sagaStep: "process-payment")
                return KafkaOutgoingMessage(
                    topic: "payments.commands", key: Array(key.utf8), value: try SkaldJSON.encode(command.message),
                    headers: KafkaHeaders(envelope))
            }
            for result in try await producer.send(outgoing) { _ = try result.get() }
            await producer.shutdown()
        }

        /// Sends payments `cmd-0` (alice) and `cmd-1` (bob) and waits until the service charged both.
        func chargeAliceAndBob() async throws {
            for (index, customer) in ["alice", "bob"].enumerated() {
                try await send(
                    ProcessPayment(orderId: "o\(index)", customerId: customer, amountCents: 50), id: "cmd-\(index)",
                    saga: "PlaceOrder-o\(index)")
            }
            try await eventually("both payments are recorded") {
                try await count("SELECT count(*)::bigint FROM payments WHERE status = 'charged'") == 2
            }
        }

        /// Sends payment `cmd-9`, for a reader to find after the group's committed position.
        func sendLaterCommand() async throws {
            try await send(
                ProcessPayment(orderId: "o9", customerId: "alice", amountCents: 50), id: "cmd-9", saga: "PlaceOrder-o9")
        }

        /// The ids of the first commands a new member of the payment service's group reads
        /// from payments.commands: those after the group's committed position.
        func firstCommandsReadByTheServiceGroup() async throws -> [String] {
            // A member killed before is dropped after its session timeout (6 s) before this one
            // gets partitions; the deadline only matters when nothing arrives at all.
            let read = try await readAsNewMember(
                of: "payment-service", topics: ["payments.commands"], bootstrap: cluster.bootstrapServers
            ) { !$0.isEmpty }
            return try read.map { try MessageEnvelope(headers: $0.headers.map { ($0.name, $0.value ?? []) }).id }
        }

        func count(_ query: PostgresQuery) async throws -> Int {
            try await TestPostgres.count(schemaURL, query)
        }

        /// The replies on skald.replies, read until `expected` arrived and a moment more.
        func replies(expected: Int, timeout: Duration = .seconds(60)) async throws -> [MessageEnvelope] {
            var configuration = mockKafka(cluster.bootstrapServers)
            configuration.groupID = "reader-\(UUID().uuidString)"
            let consumer = try KafkaConsumer(configuration: configuration, topics: ["skald.replies"], logger: e2eLogger)
            var envelopes: [MessageEnvelope] = []
            // Never race nextBatch against a timer and cancel it: a batch it took just then
            // would be lost. Closing the consumer ends the loop instead: at the deadline, or
            // two seconds after the expected replies arrived (to catch duplicates).
            let deadline = Task {
                try await Task.sleep(for: timeout)
                try? await consumer.close()
            }
            defer { deadline.cancel() }
            var settle: Task<Void, any Error>?
            defer { settle?.cancel() }
            while let batch = try await consumer.nextBatch(maxCount: 100) {
                for message in batch {
                    envelopes.append(try MessageEnvelope(headers: message.headers.map { ($0.name, $0.value ?? []) }))
                }
                if envelopes.count >= expected && settle == nil {
                    settle = Task {
                        try await Task.sleep(for: .seconds(2))
                        try? await consumer.close()
                    }
                }
            }
            try? await consumer.close()
            return envelopes
        }
    }

    @Test("a command delivered three times is applied once and answered once, with the saga headers")
    func duplicateDeliveries() async throws {
        let fixture = try await Fixture()
        defer { fixture.cluster.shutdown() }
        let service = try fixture.service()
        let running = Task { try await service.run() }
        defer { running.cancel() }

        try await fixture.send(
            ProcessPayment(orderId: "o1", customerId: "alice", amountCents: 700), id: "cmd-1", saga: "PlaceOrder-o1",
            copies: 3)
        try await eventually("the payment is recorded") {
            try await fixture.count("SELECT count(*)::bigint FROM payments WHERE status = 'charged'") == 1
        }
        let replies = try await fixture.replies(expected: 1)
        #expect(replies.count == 1)
        let reply = try #require(replies.first)
        #expect(reply.type == PaymentProcessed.messageType)
        #expect(reply.causationId == "cmd-1")
        #expect(reply.sagaId == "PlaceOrder-o1" && reply.sagaType == "PlaceOrder" && reply.sagaStep == "process-payment")
        #expect(try await fixture.count("SELECT balance FROM accounts WHERE customer_id = 'alice'") == 9_300)
    }

    @Test("a service lent a producer answers through it and leaves it open at its stop, for its owner to shut")
    func lentProducer() async throws {
        let fixture = try await Fixture()
        defer { fixture.cluster.shutdown() }
        let producer = try KafkaProducer(configuration: mockKafka(fixture.cluster.bootstrapServers), logger: e2eLogger)
        let service = try ParticipantService(
            handler: PaymentService(), configuration: fixture.configuration(ServiceBehaviour()), producer: producer,
            logger: e2eLogger)
        let group = ServiceGroup(services: [service], logger: e2eLogger)
        let running = Task { try await group.run() }
        try await fixture.send(
            ProcessPayment(orderId: "o1", customerId: "alice", amountCents: 700), id: "cmd-1", saga: "PlaceOrder-o1")
        let replies = try await fixture.replies(expected: 1)
        #expect(replies.map(\.causationId) == ["cmd-1"])
        await group.triggerGracefulShutdown()
        try await running.value

        let report = try await producer.send(KafkaOutgoingMessage(topic: "skald.replies", key: "k", value: "{}"))
        #expect(report.topic == "skald.replies", "the lent producer still delivers after the service stopped")
        await producer.shutdown()
    }

    @Test("a command delivered again in a later batch, with a new one: the repeat is skipped, the new one applied")
    func repeatInALaterBatch() async throws {
        let fixture = try await Fixture()
        defer { fixture.cluster.shutdown() }
        let metrics = TestMetrics()
        let service = try fixture.service(metrics: metrics)
        let running = Task { try await service.run() }
        defer { running.cancel() }

        let first = ProcessPayment(orderId: "o1", customerId: "alice", amountCents: 700)
        try await fixture.send(first, id: "cmd-1", saga: "PlaceOrder-o1")
        try await eventually("the first payment is recorded") {
            try await fixture.count("SELECT count(*)::bigint FROM payments WHERE status = 'charged'") == 1
        }
        // One produce call to one partition, so the repeat and the new command most likely share
        // a batch: the batch's plain inbox insert fails on the repeat, and the batch goes round
        // again skipping it. (Apart, each takes its own path to the same end.)
        try await fixture.send(
            [
                (first, "cmd-1", "PlaceOrder-o1"),
                (ProcessPayment(orderId: "o2", customerId: "alice", amountCents: 200), "cmd-2", "PlaceOrder-o2"),
            ], key: "PlaceOrder-o1")
        let replies = try await fixture.replies(expected: 2)
        #expect(replies.map { $0.causationId ?? "" }.sorted() == ["cmd-1", "cmd-2"], "each command answered once")
        #expect(try await fixture.count("SELECT count(*)::bigint FROM payments WHERE status = 'charged'") == 2)
        #expect(try await fixture.count("SELECT balance FROM accounts WHERE customer_id = 'alice'") == 9_100)
        #expect(try await fixture.count("SELECT count(*)::bigint FROM inbox") == 2)
        // Counted as a duplicate, not as a command the data refused.
        func commands(_ outcome: String) throws -> Int64 {
            try metrics.expectCounter(
                "skald_service_commands_total", [("service", "payment"), ("outcome", outcome)]
            ).totalValue
        }
        #expect(try commands("duplicate") == 1)
        #expect(try commands("applied") == 2)
        #expect((try? commands("rejected")) ?? 0 == 0)
    }

    @Test("the service stores its offsets after each batch and they reach its group: after a graceful stop, a reader in the group resumes after the applied commands")
    func offsetsCommittedWithoutAwaitingEachBatch() async throws {
        let fixture = try await Fixture()
        defer { fixture.cluster.shutdown() }
        let group = ServiceGroup(services: [try fixture.service()], logger: e2eLogger)
        let running = Task { try await group.run() }
        try await fixture.chargeAliceAndBob()
        await group.triggerGracefulShutdown()
        try await running.value

        // A reader in the service's group starts where the service stopped: with nothing
        // committed it would begin at the earliest offset and read both commands again.
        try await fixture.sendLaterCommand()
        #expect(try await fixture.firstCommandsReadByTheServiceGroup() == ["cmd-9"], "the group resumes after the applied commands")
    }

    @Test("offsets reach the group while the service runs: killed with SIGKILL seconds after its last batch, it is not sent those commands again")
    func offsetsAutoCommittedWhileRunning() async throws {
        let fixture = try await Fixture()
        defer { fixture.cluster.shutdown() }
        let service = SkaldProcess.exampleServices(
            services: "payment", postgresURL: fixture.baseURL, bootstrap: fixture.cluster.bootstrapServers,
            schemaPrefix: fixture.prefix)
        try service.start()
        defer { service.killNow() }
        try await fixture.chargeAliceAndBob()
        // The auto-commit sends stored offsets every second; a kill gives no close() to send them.
        try await Task.sleep(for: .seconds(3))
        await service.kill()

        try await fixture.sendLaterCommand()
        #expect(
            try await fixture.firstCommandsReadByTheServiceGroup() == ["cmd-9"],
            "offsets stored before the kill reached the group:\n\(service.log.suffix(1_000))")
    }

    @Test("short balance declines; a refund undoes a charge once; a refund before its payment blocks it")
    func declinesAndRefunds() async throws {
        let fixture = try await Fixture()
        defer { fixture.cluster.shutdown() }
        let service = try fixture.service()
        let running = Task { try await service.run() }
        defer { running.cancel() }

        try await fixture.send(ProcessPayment(orderId: "o2", customerId: "bob", amountCents: 500), id: "c2", saga: "s2")
        try await fixture.send(ProcessPayment(orderId: "o3", customerId: "alice", amountCents: 400), id: "c3", saga: "s3")
        try await fixture.send(RefundPayment(orderId: "o3", paymentId: nil), id: "c3r", saga: "s3", copies: 2)
        try await fixture.send(RefundPayment(orderId: "o4", paymentId: nil), id: "c4r", saga: "s4")
        try await fixture.send(ProcessPayment(orderId: "o4", customerId: "alice", amountCents: 300), id: "c4", saga: "s4")
        try await fixture.send(ProcessPayment(orderId: "o5", customerId: "nobody", amountCents: 1), id: "c5", saga: "s5")
        let replies = try await fixture.replies(expected: 6)
        let byCause = Dictionary(replies.map { ($0.causationId ?? "", $0.type) }, uniquingKeysWith: { first, _ in first })
        #expect(replies.count == 6)
        #expect(byCause["c2"] == PaymentDeclined.messageType)
        #expect(byCause["c3"] == PaymentProcessed.messageType)
        #expect(byCause["c3r"] == PaymentRefunded.messageType)
        #expect(byCause["c4r"] == PaymentRefunded.messageType)
        #expect(byCause["c4"] == PaymentDeclined.messageType)
        #expect(byCause["c5"] == PaymentDeclined.messageType)
        #expect(try await fixture.count("SELECT balance FROM accounts WHERE customer_id = 'alice'") == 10_000)
        #expect(try await fixture.count("SELECT balance FROM accounts WHERE customer_id = 'bob'") == 100)
        #expect(try await fixture.count("SELECT count(*)::bigint FROM payments WHERE status = 'charged'") == 0)
    }

    @Test("told to fail every payment it declines them; told to stay silent it applies but never answers")
    func misbehaviour() async throws {
        let fixture = try await Fixture()
        defer { fixture.cluster.shutdown() }
        let declining = try fixture.service(ServiceBehaviour(failureRate: 1))
        let running = Task { try await declining.run() }
        try await fixture.send(ProcessPayment(orderId: "o6", customerId: "alice", amountCents: 1), id: "c6", saga: "s6")
        let replies = try await fixture.replies(expected: 1)
        #expect(replies.map(\.type) == [PaymentDeclined.messageType])
        running.cancel()
        _ = try? await running.value

        let silent = try fixture.service(ServiceBehaviour(silent: true))
        let silentRun = Task { try await silent.run() }
        defer { silentRun.cancel() }
        try await fixture.send(ProcessPayment(orderId: "o7", customerId: "alice", amountCents: 1), id: "c7", saga: "s7")
        try await eventually("the silent service applies the payment") {
            try await fixture.count("SELECT count(*)::bigint FROM payments WHERE order_id = 'o7' AND status = 'charged'") == 1
        }
        // Only the first service's reply is on the topic: the silent one sent none.
        let after = try await fixture.replies(expected: 2, timeout: .seconds(5))
        #expect(after.map(\.causationId) == ["c6"])
    }

    @Test("a command the data rejects or the handler cannot read is skipped unanswered; the rest of its batch is applied")
    func poisonCommand() async throws {
        let fixture = try await Fixture()
        defer { fixture.cluster.shutdown() }
        // A negative amount is the sender's bug, not a decline; the handler refuses to read it.
        try await fixture.send(ProcessPayment(orderId: "bad", customerId: "alice", amountCents: -100), id: "c-bad", saga: "s1")
        // A NUL cannot be sent to Postgres in text: the batch fails as a whole, is split, and
        // the command fails alone.
        try await fixture.send(ProcessPayment(orderId: "nul\u{0}", customerId: "alice", amountCents: 50), id: "c-nul", saga: "s1")
        try await fixture.send(ProcessPayment(orderId: "good", customerId: "alice", amountCents: 100), id: "c-good", saga: "s1")
        let service = try fixture.service()
        let running = Task { try await service.run() }
        defer { running.cancel() }
        let replies = try await fixture.replies(expected: 1)
        #expect(replies.map(\.causationId) == ["c-good"])
        #expect(
            try await fixture.count("SELECT count(*)::bigint FROM inbox WHERE message_id IN ('c-bad', 'c-nul', 'c-good')") == 3)
        #expect(try await fixture.count("SELECT balance FROM accounts WHERE customer_id = 'alice'") == 9_900)
        #expect(try await fixture.count("SELECT count(*)::bigint FROM payments WHERE order_id <> 'good'") == 0)
    }
}
