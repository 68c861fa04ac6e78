import Foundation
import Skald
import SkaldKafka
import SkaldPostgres
import SkaldRuntime
import SkaldTestSupport
import Testing

@Suite("Orchestrator: what participants get wrong")
struct OrchestratorFailureTests {
    private func events(_ url: String, _ sagaId: String) async throws -> [String] {
        try await TestPostgres.strings(url, "SELECT event_type FROM saga_events WHERE saga_id = \(sagaId) ORDER BY sequence")
    }

    @Test("a compensation that keeps failing ends in failed-needs-operator; an operator skip finishes the saga, audited")
    func compensationNeedsOperator() async throws {
        let definition = transferSaga(
            stepTimeout: .milliseconds(200), stepRetry: .exponential(maxAttempts: 2, initial: .milliseconds(100)),
            compensationRetry: .exponential(maxAttempts: 2, initial: .milliseconds(100)),
            compensationTimeout: .milliseconds(200))
        let participants = TransferParticipants(silentFor: [Debit.messageType, Refund.messageType])
        try await withTransferSystem(definition: definition, participants: participants) { orchestrator, url, _ in
            let sagaId = try await orchestrator.start(
                "Transfer", input: StartTransfer(transferId: "stuck", amount: 9, declineDebit: false, declineCredit: false),
                idempotencyKey: "stuck")
            try await eventually("the saga asks for an operator") {
                try await TestPostgres.strings(url, "SELECT status FROM sagas WHERE saga_id = \(sagaId)") == ["failed_needs_operator"]
            }
            let log = try await events(url, sagaId)
            #expect(log.filter { $0 == "step.timed-out" }.count == 2, "\(log)")
            #expect(log.contains("compensation.started"))
            #expect(log.filter { $0 == "compensation.command-sent" }.count == 2, "\(log)")
            #expect(log.last == "saga.failed-needs-operator")
            let reason = try await TestPostgres.strings(url, "SELECT stuck_reason FROM sagas WHERE saga_id = \(sagaId)")
            #expect(reason.first?.isEmpty == false)

            // The refund was made by hand: the operator skips the stuck compensation.
            let outcome = try await orchestrator.operate(
                sagaId: sagaId, command: OperatorCommand(.skip, actor: "ops@example.com", reason: "refunded by hand"))
            #expect(outcome == .applied(sagaId: sagaId))
            try await eventually("the saga finishes compensating") {
                try await TestPostgres.strings(url, "SELECT status FROM sagas WHERE saga_id = \(sagaId)") == ["compensated"]
            }
            let audit = try await TestPostgres.strings(
                url, "SELECT action || ' by ' || actor || ': ' || reason FROM audit_log WHERE saga_id = \(sagaId)")
            #expect(audit == ["skip by ops@example.com: refunded by hand"])

            // A finished saga refuses: the caller hears why, and so does the audit log.
            let refused = try await orchestrator.operate(sagaId: sagaId, command: OperatorCommand(.retry, actor: "ops@example.com"))
            #expect(refused == .rejected(reason: "the saga is compensated"))
            let outcomes = try await TestPostgres.strings(url, "SELECT outcome FROM audit_log WHERE saga_id = \(sagaId) ORDER BY id")
            #expect(outcomes == ["applied", "refused: the saga is compensated"])
        }
    }

    @Test("a reply after the step timed out: the late success is compensated too")
    func lateReplyAfterTimeout() async throws {
        // The debit's reply comes 1.2 s after its timeout: late by a margin a busy machine keeps.
        let definition = transferSaga(stepTimeout: .milliseconds(300), stepRetry: .none)
        let participants = TransferParticipants(delays: [Debit.messageType: .milliseconds(1_500)])
        try await withTransferSystem(definition: definition, participants: participants) { orchestrator, url, _ in
            let sagaId = try await orchestrator.start(
                "Transfer", input: StartTransfer(transferId: "late", amount: 3, declineDebit: false, declineCredit: false),
                idempotencyKey: "late")
            try await eventually("the late debit is refunded") {
                guard participants.effects("late", "refund") == 1 else { return false }
                return try await TestPostgres.strings(url, "SELECT status FROM sagas WHERE saga_id = \(sagaId)") == ["compensated"]
            }
            let log = try await events(url, sagaId)
            #expect(log.contains("step.timed-out"), "\(log)")
            #expect(participants.effects("late", "debit") == 1)
            #expect(participants.effects("late", "credit") == 0)
        }
    }

    @Test("duplicate replies (the same id twice, and again under another id) change nothing")
    func duplicateReplies() async throws {
        let participants = TransferParticipants(duplicateReplies: true)
        try await withTransferSystem(participants: participants) { orchestrator, url, _ in
            for index in 0..<100 {
                try await orchestrator.start(
                    "Transfer",
                    input: StartTransfer(transferId: "d\(index)", amount: 10, declineDebit: false, declineCredit: index % 4 == 1),
                    idempotencyKey: "d\(index)")
            }
            try await eventually("every saga terminal") {
                try await TestPostgres.count(
                    url, "SELECT count(*)::bigint FROM sagas WHERE status IN ('completed', 'compensated')") == 100
            }
            for index in 0..<100 {
                let id = "d\(index)"
                #expect(participants.effects(id, "debit") == 1)
                #expect(participants.effects(id, "refund") == (index % 4 == 1 ? 1 : 0))
                #expect(participants.effects(id, "credit") == (index % 4 == 1 ? 0 : 1))
            }
            // The copies under other ids reached the sagas and were recorded as ignored.
            let ignored = try await TestPostgres.count(
                url, "SELECT count(*)::bigint FROM saga_events WHERE event_type = 'saga.input-ignored'")
            #expect(ignored > 0)
        }
    }

    @Test("10,000 sagas with random failures and delays: every saga terminal, counts equal the ledgers")
    func tenThousandSagas() async throws {
        let participants = TransferParticipants(jitter: true)
        try await withTransferSystem(participants: participants) { orchestrator, url, _ in
            var declinedDebit = 0
            var declinedCredit = 0
            var generator = SystemRandomNumberGenerator()
            let fates: [(Bool, Bool)] = (0..<10_000).map { _ in
                let debit = Int.random(in: 0..<10, using: &generator) == 0
                let credit = !debit && Int.random(in: 0..<8, using: &generator) == 0
                return (debit, credit)
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<4 {
                    group.addTask {
                        for index in stride(from: worker, to: 10_000, by: 4) {
                            let (debit, credit) = fates[index]
                            try await orchestrator.start(
                                "Transfer",
                                input: StartTransfer(transferId: "s\(index)", amount: index, declineDebit: debit, declineCredit: credit),
                                idempotencyKey: "s\(index)")
                        }
                    }
                }
                try await group.waitForAll()
            }
            for (debit, credit) in fates {
                if debit { declinedDebit += 1 }
                if credit { declinedCredit += 1 }
            }
            try await eventually("10,000 sagas terminal", timeout: .seconds(600), poll: .milliseconds(500)) {
                try await TestPostgres.count(
                    url, "SELECT count(*)::bigint FROM sagas WHERE status IN ('completed', 'compensated')") == 10_000
            }
            let completed = try await TestPostgres.count(url, "SELECT count(*)::bigint FROM sagas WHERE status = 'completed'")
            let compensated = try await TestPostgres.count(url, "SELECT count(*)::bigint FROM sagas WHERE status = 'compensated'")
            #expect(completed == 10_000 - declinedDebit - declinedCredit)
            #expect(compensated == declinedDebit + declinedCredit)
            var debits = 0, credits = 0, refunds = 0
            for index in 0..<10_000 {
                debits += participants.effects("s\(index)", "debit")
                credits += participants.effects("s\(index)", "credit")
                refunds += participants.effects("s\(index)", "refund")
            }
            #expect(credits == completed)
            #expect(debits == completed + declinedCredit)
            #expect(refunds == declinedCredit)
        }
    }
}

@Suite("Orchestrator: participant circuit breaker")
struct CircuitBreakerIntegrationTests {
    @Test("a participant that stops answering opens its circuit: new commands wait in the outbox, probes close it again")
    func breakerHoldsCommandsUntilTheParticipantRecovers() async throws {
        // Short enough to open the circuit soon, long enough that a held credit sent after the
        // circuit closes is answered in time on a machine busy with the whole suite (with 300 ms
        // a held saga now and then timed out and compensated instead of completing).
        let definition = transferSaga(stepTimeout: .seconds(1), stepRetry: .none)
        let participants = TransferParticipants(silentFor: [Credit.messageType])
        let policy = CircuitBreaker.Policy(failureThreshold: 3, window: .seconds(30), cooldown: .seconds(1), probes: 1)
        try await withTransferSystem(definition: definition, participants: participants, circuitBreaker: policy) {
            orchestrator, url, _ in
            // Warm up first: until both consumer groups have joined (~3 s on the mock), the short
            // step timeouts would hit the debits too.
            try await orchestrator.start(
                "Transfer", input: StartTransfer(transferId: "warm", amount: 1, declineDebit: true, declineCredit: false),
                idempotencyKey: "warm")
            try await eventually("the warm-up saga ends") {
                try await TestPostgres.strings(url, "SELECT status FROM sagas WHERE saga_id = 'Transfer-warm'") == ["compensated"]
            }
            for index in 0..<4 {
                try await orchestrator.start(
                    "Transfer", input: StartTransfer(transferId: "a\(index)", amount: 1, declineDebit: false, declineCredit: false),
                    idempotencyKey: "a\(index)")
            }
            try await eventually("the credits circuit opens") {
                if case .open? = orchestrator.breakers.states[TransferTopics.credits] { return true }
                return false
            }
            // New sagas debit as usual, but their credit commands wait instead of piling up.
            for index in 0..<5 {
                try await orchestrator.start(
                    "Transfer", input: StartTransfer(transferId: "b\(index)", amount: 1, declineDebit: false, declineCredit: false),
                    idempotencyKey: "b\(index)")
            }
            try await eventually("credit commands held in the outbox") {
                try await TestPostgres.count(
                    url, "SELECT count(*)::bigint FROM outbox WHERE topic = \(TransferTopics.credits)") >= 3
            }
            #expect((0..<5).allSatisfy { participants.effects("b\($0)", "credit") == 0 })

            // The participant recovers: a probe gets a reply, the circuit closes, the held commands go.
            participants.answer(Credit.messageType)
            do {
                try await eventually("the held sagas complete", timeout: .seconds(60)) {
                    try await TestPostgres.count(
                        url, "SELECT count(*)::bigint FROM sagas WHERE saga_id LIKE 'Transfer-b%' AND status = 'completed'") == 5
                }
            } catch {
                let statuses = try await TestPostgres.strings(
                    url, "SELECT saga_id || ' ' || status || ' ' || coalesce(stuck_reason, '') FROM sagas WHERE saga_id LIKE 'Transfer-b%'")
                Issue.record("held sagas: \(statuses), circuit \(String(describing: orchestrator.breakers.states[TransferTopics.credits]))")
                throw error
            }
            #expect(orchestrator.breakers.states[TransferTopics.credits] == .closed)
            #expect((0..<5).allSatisfy { participants.effects("b\($0)", "credit") == 1 })
        }
    }
}
