import Foundation
import SkaldTestSupport
import Testing

@testable import SkaldCLI

/// The benchmark's ceiling runs the pump's and the relay's own statements (`PumpStatements`)
/// through pgbench. A change to one of them that the script no longer fits (a new bind, say)
/// must fail here, not on the day someone measures.
@Suite("The orchestrator benchmark's pgbench ceiling")
struct PGBenchCeilingTests {
    @Test("pgbench runs the pump's and relay's statements on a store: two events per transition, the outbox emptied up to each client's last delete")
    func ceilingRunsTheSameStatements() async throws {
        let url = try await TestPostgres.freshStore("ceiling")
        // `run` itself checks the events written and the outbox left, and throws otherwise.
        let ceiling = try await PGBenchCeiling.run(executable: try PGBench.find(), url: url, batch: 20, clients: 2, seconds: 2)
        #expect(ceiling.transitionsPerSecond > 0)
        #expect(ceiling.scaffoldingShare > 0 && ceiling.scaffoldingShare < 1)
        let events = try await TestPostgres.count(url, "SELECT count(*)::bigint FROM saga_events")
        #expect(events > 0 && events % 40 == 0, "two events for each of the 20 transitions of every pgbench transaction")
        // One transition in six starts a saga (20 / 6 = 3 rows inserted per transaction); the
        // others' updates must find the rows seeded for them, or they would cost nothing.
        let inserted = try await TestPostgres.count(url, "SELECT count(*)::bigint FROM sagas WHERE saga_id LIKE 'pgb-%-new-%'")
        #expect(inserted * 40 == events * 3)
        let updated = try await TestPostgres.count(
            url, "SELECT count(*)::bigint FROM sagas WHERE saga_id LIKE 'pgb-%' AND saga_id NOT LIKE '%-new-%' AND last_sequence > 0")
        #expect(updated > 0)
    }

    @Test("more clients than outbox lanes are refused, with the reason")
    func tooManyClients() async throws {
        await #expect {
            _ = try await PGBenchCeiling.run(executable: "/bin/false", url: "postgres://127.0.0.1:1/none", batch: 20, clients: 17, seconds: 1)
        } throws: { error in
            "\(error)".contains("at most 16 clients")
        }
    }

    @Test("the script is one command per line, and pgbench's own queries are the ones marked as scaffolding")
    func scriptShape() {
        let script = PGBenchCeiling.script(batch: 500)
        let lines = script.text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(lines.count == script.commandCount)
        for index in script.scaffolding {
            #expect(lines[index].hasSuffix("\\gset"), "line \(index): \(lines[index].prefix(80))")
        }
        #expect(lines.filter { $0.hasSuffix("\\gset") }.count == script.scaffolding.count)
        // The relay's delete covers two batches of 500 (832 rows; a round is 1,000): it runs in
        // every second transaction, and its commands count half.
        #expect(PGBenchCeiling.forgetEvery(batch: 500) == 2)
        #expect(script.weights.count == script.commandCount)
        let halved = script.weights.indices.filter { script.weights[$0] == 0.5 }
        #expect(halved.map { String(lines[$0]) }.contains { $0.hasPrefix("DELETE FROM outbox") })
        #expect(script.weights.allSatisfy { $0 == 1 || $0 == 0.5 })
        #expect(PGBenchCeiling.forgetEvery(batch: 2_000) == 1, "a batch of more than a round's rows: a delete in each")
    }
}
