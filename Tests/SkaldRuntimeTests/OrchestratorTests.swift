import Foundation
import Skald
import SkaldKafka
import SkaldPostgres
import SkaldRuntime
import SkaldTestSupport
import Testing

@Suite("Orchestrator over the Kafka mock and a real Postgres")
struct OrchestratorTests {
    @Test("sagas complete or compensate as the participants decide, each effect exactly once")
    func sagasRunToTheirEnd() async throws {
        let participants = TransferParticipants()
        try await withTransferSystem(participants: participants) { orchestrator, url, _ in
            let count = 300
            for index in 0..<count {
                let input = StartTransfer(
                    transferId: "t\(index)", amount: 100 + index,
                    declineDebit: index % 10 == 3, declineCredit: index % 7 == 5)
                try await orchestrator.start("Transfer", input: input, idempotencyKey: "t\(index)")
            }
            // Starting again with the same key starts nothing new.
            let again = try await orchestrator.start(
                "Transfer", input: StartTransfer(transferId: "t0", amount: 1, declineDebit: false, declineCredit: false),
                idempotencyKey: "t0")
            #expect(again == "Transfer-t0")

            try await eventually("every saga terminal") {
                try await TestPostgres.count(
                    url, "SELECT count(*)::bigint FROM sagas WHERE status NOT IN ('completed', 'compensated')") == 0
            }
            #expect(try await TestPostgres.count(url, "SELECT count(*)::bigint FROM sagas") == count)

            for index in 0..<count {
                let id = "t\(index)"
                let status = try await TestPostgres.strings(url, "SELECT status FROM sagas WHERE saga_id = \("Transfer-\(id)")")
                if index % 10 == 3 {
                    #expect(status.first == "compensated", "\(id)")
                    #expect(participants.effects(id, "debit") == 0)
                    #expect(participants.effects(id, "refund") == 0)
                } else if index % 7 == 5 {
                    #expect(status.first == "compensated", "\(id)")
                    #expect(participants.effects(id, "debit") == 1)
                    #expect(participants.effects(id, "refund") == 1)
                    #expect(participants.effects(id, "credit") == 0)
                } else {
                    #expect(status.first == "completed", "\(id)")
                    #expect(participants.effects(id, "debit") == 1)
                    #expect(participants.effects(id, "credit") == 1)
                    #expect(participants.effects(id, "notify") == 1)
                    #expect(participants.effects(id, "refund") == 0)
                }
            }
            // The snapshot is the fold of the log: its last sequence is the log's length.
            let mismatched = try await TestPostgres.count(
                url,
                """
                SELECT count(*)::bigint FROM sagas s
                WHERE s.last_sequence <> (SELECT max(sequence) FROM saga_events e WHERE e.saga_id = s.saga_id)
                """)
            #expect(mismatched == 0)
            try await eventually("the outbox drains") {
                try await TestPostgres.count(url, "SELECT count(*)::bigint FROM outbox") == 0
            }
        }
    }

    @Test("an input with a date starts its saga, which runs to its end")
    func startWithADate() async throws {
        try await withTransferSystem { orchestrator, url, _ in
            let input = StartTransfer(
                transferId: "dated", amount: 5, declineDebit: false, declineCredit: false,
                requestedAt: Date(timeIntervalSince1970: 1_764_000_000.25))
            let sagaId = try await orchestrator.start("Transfer", input: input, idempotencyKey: "dated")
            #expect(sagaId == "Transfer-dated")
            try await eventually("the saga completes") {
                try await TestPostgres.strings(url, "SELECT status FROM sagas WHERE saga_id = 'Transfer-dated'") == ["completed"]
            }
        }
    }

    @Test("the start's trace context reaches every command, also those caused by replies that carry none")
    func traceContextFollowsTheSaga() async throws {
        let participants = TransferParticipants()
        try await withTransferSystem(participants: participants) { orchestrator, url, _ in
            let trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
            let sagaId = try await orchestrator.start(
                "Transfer", input: StartTransfer(transferId: "traced", amount: 1, declineDebit: false, declineCredit: false),
                idempotencyKey: "traced", traceparent: trace)
            try await eventually("the traced saga completes") {
                try await TestPostgres.strings(url, "SELECT status FROM sagas WHERE saga_id = \(sagaId)") == ["completed"]
            }
            // The participants reply without trace context; the saga keeps its own.
            #expect(participants.traceparent(sagaId: sagaId, command: Debit.messageType) == trace)
            #expect(participants.traceparent(sagaId: sagaId, command: Credit.messageType) == trace)
            #expect(participants.traceparent(sagaId: sagaId, command: Notify.messageType) == trace)
        }
    }

    @Test("a participant that never answers: timeout, then compensation of what was done")
    func silentParticipantTimesOut() async throws {
        let participants = TransferParticipants(silentFor: [Credit.messageType])
        try await withTransferSystem(definition: transferSaga(stepTimeout: .milliseconds(300)), participants: participants) {
            orchestrator, url, _ in
            try await orchestrator.start(
                "Transfer", input: StartTransfer(transferId: "slow", amount: 5, declineDebit: false, declineCredit: false),
                idempotencyKey: "slow")
            try await eventually("the silent step ends the saga") {
                let status = try await TestPostgres.strings(url, "SELECT status FROM sagas WHERE saga_id = 'Transfer-slow'")
                return status.first.map { $0 != "running" && $0 != "compensating" } ?? false
            }
            let status = try await TestPostgres.strings(url, "SELECT status FROM sagas WHERE saga_id = 'Transfer-slow'")
            let events = try await TestPostgres.strings(url, "SELECT event_type FROM saga_events WHERE saga_id = 'Transfer-slow' ORDER BY sequence")
            #expect(events.contains("step.timed-out"))
            // The pivot's outcome is unknown: the saga must not pretend it is compensated; it waits for a person.
            #expect(status.first == "failed_needs_operator" || status.first == "compensated", "\(events)")
            #expect(participants.effects("slow", "credit") == 0)
        }
    }

    @Test("turning Kafka's auto-commit off is refused at once, with the reason")
    func autoCommitOffIsRefused() throws {
        var registry = SagaRegistry()
        try registry.register(transferSaga())
        var kafka = KafkaConfiguration(bootstrapServers: "127.0.0.1:1")
        kafka["enable.auto.commit"] = "false"
        let configuration = OrchestratorConfiguration(kafka: kafka, postgresURL: "postgres://127.0.0.1:1/none")
        #expect {
            _ = try Orchestrator(registry: registry, configuration: configuration, logger: runtimeTestLogger)
        } throws: { error in
            "\(error)".contains("enable.auto.commit=false is not supported")
        }
        kafka["enable.auto.commit"] = "TRUE"
        _ = try Orchestrator(
            registry: registry, configuration: OrchestratorConfiguration(kafka: kafka, postgresURL: "postgres://127.0.0.1:1/none"),
            logger: runtimeTestLogger)
    }

    @Test("malformed and unroutable messages land in the dead-letter topic with a reason")
    func deadLetters() async throws {
        try await withTransferSystem { orchestrator, url, cluster in
            let producer = try KafkaProducer(configuration: mockKafka(cluster), logger: runtimeTestLogger)
            defer { Task { await producer.shutdown() } }
            var bad: [KafkaOutgoingMessage] = []
            for index in 0..<50 {
                // No CloudEvents headers at all.
                bad.append(KafkaOutgoingMessage(topic: "skald.replies", key: "x", value: "{}"))
                // Not JSON.
                bad.append(KafkaOutgoingMessage(
                    topic: "skald.replies", key: "x", value: "{not json",
                    headers: KafkaHeaders(
                        MessageEnvelope(id: "bad-json-\(index)", source: "t", type: Debited.messageType, sagaId: "Transfer-none"))))
                // An unknown saga id.
                bad.append(KafkaOutgoingMessage(
                    topic: "skald.replies", key: "x", value: #"{"transferId":"ghost"}"#,
                    headers: KafkaHeaders(
                        MessageEnvelope(id: "ghost-\(index)", source: "t", type: Debited.messageType, sagaId: "Transfer-ghost-\(index)"))))
                // An unknown message type.
                bad.append(KafkaOutgoingMessage(
                    topic: "skald.replies", key: "x", value: "{}",
                    headers: KafkaHeaders(
                        MessageEnvelope(id: "odd-\(index)", source: "t", type: "test.Unknown"))))
            }
            for result in try await producer.send(bad) { _ = try result.get() }
            try await orchestrator.start(
                "Transfer", input: StartTransfer(transferId: "ok", amount: 1, declineDebit: false, declineCredit: false),
                idempotencyKey: "ok")
            // A poison message: routable, but Postgres refuses its id (jsonb has no NUL) every time.
            // It must end in the dead letters without stopping the pump.
            let poison = KafkaOutgoingMessage(
                topic: "skald.replies", key: "x", value: #"{"transferId":"ok"}"#,
                headers: KafkaHeaders(
                    MessageEnvelope(id: "poison\u{0}id", source: "t", type: Debited.messageType, sagaId: "Transfer-ok")))
            _ = try await producer.send(poison)
            bad.append(poison)

            var configuration = mockKafka(cluster)
            configuration.groupID = "dead-letter-reader"
            let reader = try KafkaConsumer(configuration: configuration, topics: ["skald.dead-letter"], logger: runtimeTestLogger)
            var reasons: [String] = []
            while reasons.count < bad.count, let batch = try await reader.nextBatch(maxCount: 500) {
                for message in batch {
                    let reason = message.headers.first(named: "skald_dlq_reason").map { String(decoding: $0, as: UTF8.self) }
                    #expect(reason != nil)
                    #expect(message.headers.first(named: "skald_dlq_topic") == Array("skald.replies".utf8))
                    #expect(message.headers.first(named: "skald_dlq_offset") != nil)
                    reasons.append(reason ?? "")
                }
            }
            try await reader.close()
            #expect(reasons.count == bad.count)
            #expect(reasons.filter { $0.contains("ce_") || $0.contains("header") }.count >= 50)
            #expect(reasons.filter { $0.contains("not JSON") }.count == 50)
            #expect(reasons.filter { $0.contains("no saga has the id") }.count == 50)
            #expect(reasons.filter { $0.contains("processing failed") }.count == 1, "\(reasons.filter { !$0.contains("no saga") }.prefix(3))")
            // Each is recorded for the admin API too, the poison one included.
            try await eventually("every dead letter recorded") {
                try await TestPostgres.count(url, "SELECT count(*)::bigint FROM dead_letters") == bad.count
            }
            #expect(
                try await TestPostgres.count(url, "SELECT count(*)::bigint FROM dead_letters WHERE reason LIKE 'processing failed%'") == 1)
            try await eventually("the good saga completes") {
                try await TestPostgres.strings(url, "SELECT status FROM sagas WHERE saga_id = 'Transfer-ok'").first == "completed"
            }
        }
    }
}
