import Foundation
import MetricsTestKit
import Skald
import SkaldKafka
import SkaldPostgres
import SkaldRuntime
import SkaldTestSupport
import Testing

@Suite("Dead letters: recorded where an operator finds them, and redriven once fixed")
struct DeadLetterTests {
    /// The reply a debit participant sends for saga `sagaId`'s first debit attempt, as it is on the wire.
    private static func debited(sagaId: String, transferId: String, messageId: String) throws -> KafkaOutgoingMessage {
        let envelope = MessageEnvelope(
            id: messageId, source: "test", type: Debited.messageType, sagaId: sagaId, sagaType: "Transfer", sagaStep: "debit",
            causationId: OutgoingCommand.id(sagaId: sagaId, step: "debit", purpose: .action, attempt: 1))
        return KafkaOutgoingMessage(
            topic: "skald.replies", key: Array(sagaId.utf8), value: try SkaldJSON.encode(Debited(transferId: transferId)),
            headers: KafkaHeaders(envelope))
    }

    @Test("a reply for a saga that does not exist yet is recorded; redriven once the saga runs, it moves the saga on")
    func redriveAfterTheFix() async throws {
        // The debit participant is silent: the saga waits for the reply the dead letter holds.
        let participants = TransferParticipants(silentFor: [Debit.messageType])
        try await withTransferSystem(participants: participants) { orchestrator, url, cluster in
            let producer = try KafkaProducer(configuration: mockKafka(cluster), logger: runtimeTestLogger)
            let early = try Self.debited(sagaId: "Transfer-late", transferId: "late", messageId: "debited-late-1")
            for result in try await producer.send([early]) { _ = try result.get() }
            await producer.shutdown()

            try await eventually("the reply is recorded as a dead letter") {
                try await orchestrator.deadLetters.pendingCount() == 1
            }
            let listed = try await orchestrator.deadLetters.list(limit: 10)
            let letter = try #require(listed.first)
            #expect(letter.sourceTopic == "skald.replies")
            #expect(letter.sagaId == "Transfer-late")
            #expect(letter.messageId == "debited-late-1")
            #expect(letter.messageType == Debited.messageType)
            #expect(letter.reason.contains("no saga has the id"), "\(letter.reason)")
            #expect(letter.payload == nil && letter.headers == nil, "a listing leaves the bodies out")
            let full = try #require(try await orchestrator.deadLetters.deadLetter(id: letter.id))
            #expect(full.payload == String(decoding: early.value, as: UTF8.self))
            #expect(full.key == "Transfer-late")
            #expect(full.headers?.contains(DeadLetterView.Header(name: "ce_id", value: "debited-late-1")) == true)
            #expect(try await orchestrator.deadLetters.list(limit: 10, sagaId: "Transfer-other").isEmpty)

            // The fix: the saga it belongs to now runs, waiting for its debit reply.
            try await orchestrator.start(
                "Transfer", input: StartTransfer(transferId: "late", amount: 5, declineDebit: false, declineCredit: false),
                idempotencyKey: "late")
            try await eventually("the saga waits for its debit") {
                try await TestPostgres.strings(url, "SELECT current_step FROM sagas WHERE saga_id = 'Transfer-late'").first == "debit"
            }
            guard case .redriven(let redriven) = try await orchestrator.redriveDeadLetter(id: letter.id, by: "alice") else {
                Issue.record("not redriven")
                return
            }
            #expect(redriven.redrivenBy == "alice" && redriven.redrivenAt != nil)
            try await eventually("the redriven reply moves the saga to its end") {
                try await TestPostgres.strings(url, "SELECT status FROM sagas WHERE saga_id = 'Transfer-late'").first == "completed"
            }
            #expect(participants.effects("late", "credit") == 1)
            #expect(try await orchestrator.deadLetters.pendingCount() == 0)
            guard case .alreadyRedriven = try await orchestrator.redriveDeadLetter(id: letter.id, by: "bob") else {
                Issue.record("redriven twice")
                return
            }
            guard case .notFound = try await orchestrator.redriveDeadLetter(id: letter.id + 1_000, by: "bob") else {
                Issue.record("an unknown id was redriven")
                return
            }
        }
    }

    @Test(
        "a dead letter Kafka will not take before a stop is neither lost nor stripped: the stop ends, and its batch is read again",
        .timeLimit(.minutes(3)))
    func deadLetterAtAStopWithKafkaFailing() async throws {
        let url = try await TestPostgres.freshStore("rt")
        let cluster = try transferCluster()
        defer { cluster.shutdown() }
        let producer = try KafkaProducer(configuration: mockKafka(cluster), logger: runtimeTestLogger)
        let ghost = try Self.debited(sagaId: "Transfer-stop", transferId: "stop", messageId: "debited-stop-1")
        for result in try await producer.send([ghost]) { _ = try result.get() }
        await producer.shutdown()
        // From now on every produce request fails, retriably, for minutes: the dead letter
        // cannot leave, and would wait out message.timeout.ms.
        try cluster.pushRequestErrors(apiKey: .produce, errors: Array(repeating: .notEnoughReplicas, count: 5_000))

        let group = "orchestrator-\(UUID().uuidString.prefix(8))"
        func orchestrator(_ metrics: TestMetrics) throws -> Orchestrator {
            var registry = SagaRegistry()
            try registry.register(transferSaga())
            var configuration = OrchestratorConfiguration(kafka: mockKafka(cluster), postgresURL: url)
            configuration.kafka.messageTimeout = .seconds(600)
            configuration.groupID = group
            configuration.stopGrace = .seconds(1)
            return try Orchestrator(
                registry: registry, configuration: configuration, metrics: OrchestratorMetrics(factory: metrics),
                logger: runtimeTestLogger)
        }

        let metrics = TestMetrics()
        let first = RunningServices([try orchestrator(metrics)])
        try await eventually("the pump tries to send the dead letter") {
            (try? metrics.expectCounter("skald_dead_letters_total").totalValue) == 1
        }
        try await first.stop()
        #expect(
            try await TestPostgres.count(url, "SELECT count(*)::bigint FROM dead_letters") == 0,
            "recorded only once it is in the topic")

        // Kafka takes messages again: the next orchestrator reads the batch again.
        try cluster.clearRequestErrors(apiKey: .produce)
        let second = try orchestrator(TestMetrics())
        let secondRunning = RunningServices([second])
        try await eventually("the dead letter is recorded by the next orchestrator") {
            try await second.deadLetters.pendingCount() == 1
        }
        let letter = try #require(try await second.deadLetters.list(limit: 10).first)
        let full = try #require(try await second.deadLetters.deadLetter(id: letter.id))
        #expect(full.messageId == "debited-stop-1")
        #expect(full.payload == String(decoding: ghost.value, as: UTF8.self), "not stripped")
        #expect(full.headers?.contains { $0.name == "skald_dlq_payload_dropped" } == false)
        try await secondRunning.stop()
    }

    @Test("one that fails again is a new dead letter; a message Postgres cannot store text of is recorded all the same")
    func deadAgainAndUnstorableText() async throws {
        try await withTransferSystem { orchestrator, _, cluster in
            let producer = try KafkaProducer(configuration: mockKafka(cluster), logger: runtimeTestLogger)
            let ghost = try Self.debited(sagaId: "Transfer-ghost", transferId: "ghost", messageId: "ghost\u{0}1")
            let headerless = KafkaOutgoingMessage(topic: "skald.replies", key: nil, value: [0xff, 0x00, 0x01])
            for result in try await producer.send([ghost, headerless]) { _ = try result.get() }
            await producer.shutdown()
            try await eventually("both recorded") { try await orchestrator.deadLetters.pendingCount() == 2 }
            let letters = try await orchestrator.deadLetters.list(limit: 10)
            let recordedGhost = try #require(letters.first { $0.sagaId == "Transfer-ghost" })
            #expect(recordedGhost.messageId == "ghost\u{FFFD}1", "NUL is not text to Postgres")
            let recordedHeaderless = try #require(letters.first { $0.messageId == nil })
            let bytes = try #require(try await orchestrator.deadLetters.deadLetter(id: recordedHeaderless.id))
            #expect(bytes.key == nil && bytes.headers == [])

            // Four operators at once: one publishes, the others are told it was redriven.
            let outcomes = try await withThrowingTaskGroup(of: Bool.self) { group in
                for name in ["alice", "bob", "carol", "dave"] {
                    group.addTask {
                        if case .redriven = try await orchestrator.redriveDeadLetter(id: recordedGhost.id, by: name) { return true }
                        return false
                    }
                }
                return try await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 }.count == 1)
            try await eventually("dead-lettered again, as a new dead letter") {
                try await orchestrator.deadLetters.list(limit: 10, sagaId: "Transfer-ghost").count == 2
            }
            let ghosts = try await orchestrator.deadLetters.list(limit: 10, sagaId: "Transfer-ghost")
            #expect(ghosts[0].redrivenAt == nil && ghosts[1].redrivenBy != nil)
            #expect(ghosts[0].sourceOffset > ghosts[1].sourceOffset)
            #expect(try await orchestrator.deadLetters.list(limit: 10, pendingOnly: true).count == 2)

            // What went out is what came in: the same key and value bytes, the same headers (NUL aside)
            // in order, and none of the dead-letter ones.
            _ = try await orchestrator.redriveDeadLetter(id: recordedHeaderless.id, by: "alice")
            var configuration = mockKafka(cluster)
            configuration.groupID = "redriven-\(UUID().uuidString.prefix(8))"
            let reader = try KafkaConsumer(configuration: configuration, topics: ["skald.replies"], logger: runtimeTestLogger)
            var seen: [KafkaMessage] = []
            let deadline = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < deadline, seen.filter({ $0.value == headerless.value }).count < 2 || seen.filter({ $0.key == ghost.key }).count < 2,
                let batch = try await reader.nextBatch(maxCount: 100)
            {
                seen += batch
            }
            try await reader.close()
            let bare = seen.filter { $0.value == headerless.value }
            #expect(bare.count == 2 && bare.allSatisfy { $0.headers.isEmpty && $0.key == nil })
            let ghostCopies = seen.filter { $0.key == ghost.key }
            #expect(ghostCopies.count == 2)
            if let original = ghostCopies.first, let copy = ghostCopies.last {
                #expect(copy.value == original.value)
                #expect(copy.headers.map(\.name) == original.headers.map(\.name))
                #expect(!copy.headers.contains { $0.name.hasPrefix("skald_dlq") })
                #expect(copy.headers.first(named: "ce_type") == original.headers.first(named: "ce_type"))
            }
        }
    }
}
