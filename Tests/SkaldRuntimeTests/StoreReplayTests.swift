import Foundation
import Skald
import SkaldPostgres
import SkaldRuntime
import SkaldTestSupport
import Testing

/// `StoreReplay` over a store the orchestrator wrote: every history replays, and each kind of
/// damage is reported against the saga it hit, and only there.
@Suite("Store replay: histories through the definitions, logs against snapshots")
struct StoreReplayTests {
    private static func registry(_ definitions: SagaDefinition<TransferState>...) throws -> SagaRegistry {
        var registry = SagaRegistry()
        for definition in definitions { try registry.register(definition) }
        return registry
    }

    @Test("what the orchestrator wrote replays identically; a changed event, a changed snapshot and a dropped version are each reported")
    func replaysAndFindsDamage() async throws {
        let participants = TransferParticipants()
        try await withTransferSystem(participants: participants) { orchestrator, url, _ in
            let count = 40
            for index in 0..<count {
                let input = StartTransfer(
                    transferId: "r\(index)", amount: 10 + index, declineDebit: index % 10 == 3, declineCredit: index % 7 == 5)
                try await orchestrator.start("Transfer", input: input, idempotencyKey: "r\(index)")
            }
            try await eventually("every saga terminal") {
                try await TestPostgres.count(
                    url, "SELECT count(*)::bigint FROM sagas WHERE status NOT IN ('completed', 'compensated')") == 0
            }
            let pool = PostgresPool(url: url, minimumConnections: 0, maximumConnections: 2)
            var replay = StoreReplay(pool: pool, registry: try Self.registry(transferSaga()))
            replay.pageSize = 7  // several pages, one partly filled
            let clean = try await replay.run(SagaListFilter())
            #expect(clean.checked == count && clean.identical == count)
            #expect(clean.findings.isEmpty, "\(clean.findings.prefix(3))")
            #expect(clean.byDefinition == ["Transfer v1": count])
            #expect(try await replay.run(SagaListFilter(statuses: [.compensated]), limit: 3).checked == 3)
            let limited = try await replay.run(SagaListFilter(), limit: 10)  // across a page boundary (7)
            #expect(limited.checked == 10 && limited.identical == 10)

            // Checked while sagas run: each saga's log and row come from one snapshot of the store,
            // so a saga that moves during the check is not reported as damaged.
            for index in count..<(count + 60) {
                let input = StartTransfer(transferId: "r\(index)", amount: 1, declineDebit: index % 4 == 1, declineCredit: false)
                try await orchestrator.start("Transfer", input: input, idempotencyKey: "r\(index)")
            }
            for _ in 0..<5 {
                let live = try await replay.run(SagaListFilter())
                #expect(live.findingCount == 0, "\(live.findings.prefix(3))")
            }
            try await eventually("the late sagas terminal") {
                try await TestPostgres.count(
                    url, "SELECT count(*)::bigint FROM sagas WHERE status NOT IN ('completed', 'compensated')") == 0
            }
            let all = count + 60

            // Damage two sagas: one event of r1's log, r2's snapshot status.
            let connection = try await PostgresConnection.connect(to: url)
            _ = try await connection.execute(
                """
                UPDATE saga_events SET event = replace(event::text, '"step":"debit"', '"step":"credit"')::json
                WHERE saga_id = 'Transfer-r1' AND sequence = 2
                """)
            _ = try await connection.execute("UPDATE sagas SET status = 'running' WHERE saga_id = 'Transfer-r2'")
            // And lose r4's last event: its log now ends before its snapshot.
            _ = try await connection.execute(
                "DELETE FROM saga_events WHERE saga_id = 'Transfer-r4' AND sequence = (SELECT max(sequence) FROM saga_events WHERE saga_id = 'Transfer-r4')")
            await connection.close()
            var reported: [String] = []
            let damaged = try await replay.run(SagaListFilter()) { reported.append($0.sagaId) }
            #expect(damaged.checked == all && damaged.identical == all - 3 && damaged.findingCount == 3)
            #expect(Set(reported) == ["Transfer-r1", "Transfer-r2", "Transfer-r4"] && reported.count == 3, "each reported once, as found")
            for finding in damaged.findings {
                switch (finding.sagaId, finding.kind) {
                case ("Transfer-r1", .diverged(let report)):
                    #expect(report.divergence?.sequence == 2)
                    #expect(finding.description.contains("diverges at event 2"))
                case ("Transfer-r2", .snapshotDiffers(let fields)):
                    #expect(fields.count == 1 && fields[0].hasPrefix("status (log: "), "\(fields)")
                case ("Transfer-r4", .unreadable(let reason)):
                    #expect(reason.contains("events are missing"), "\(reason)")
                default:
                    Issue.record("unexpected finding \(finding)")
                }
            }

            // A binary that no longer registers v1 cannot carry these sagas: every one is reported.
            let withoutV1 = StoreReplay(pool: pool, registry: try Self.registry(transferSaga(version: 2)))
            let dropped = try await withoutV1.run(SagaListFilter())
            #expect(dropped.findingCount == all, "r4 for its short log, whatever the definition; every other for its version")
            #expect(dropped.findings.filter { if case .noDefinition = $0.kind { true } else { false } }.count == all - 1)
            // Checked against the newest version instead, the unchanged v2 agrees with every log but r1's.
            let latest = try await withoutV1.run(SagaListFilter(), target: .latestVersion)
            #expect(latest.byDefinition == ["Transfer v2": all - 1])
            #expect(Set(latest.findings.map(\.sagaId)) == ["Transfer-r1", "Transfer-r4"], "snapshots are not compared across versions")

            // By id: only those that exist are checked.
            let named = try await replay.run(sagaIds: ["Transfer-r2", "Transfer-r3", "no-such-saga"])
            #expect(named.checked == 2 && named.findings.map(\.sagaId) == ["Transfer-r2"])
            await pool.close()
        }
    }
}
