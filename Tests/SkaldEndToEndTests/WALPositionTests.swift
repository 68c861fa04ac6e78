import SkaldPostgres
import SkaldTestSupport
import Testing

@testable import SkaldCLI

/// What the benchmarks' and the demo's summaries read about the cluster's WAL.
@Suite("WAL position and files, for the summaries")
struct WALPositionTests {
    @Test("the note names the WAL files a run created, and says nothing when it created none or a count is unknown")
    func newFilesNote() {
        #expect(WALPosition.newFilesNote(before: 3, after: 40).hasPrefix("; at least 37 new WAL files, each written full of zeros first"))
        #expect(WALPosition.newFilesNote(before: 3, after: 4).hasPrefix("; at least 1 new WAL file, "))
        #expect(WALPosition.newFilesNote(before: 3, after: 40).contains("scripts/postgres.sh warm"))
        #expect(WALPosition.newFilesNote(before: 40, after: 40).isEmpty)
        // A checkpoint during the run may remove files: fewer is not a new file.
        #expect(WALPosition.newFilesNote(before: 40, after: 12).isEmpty)
        #expect(WALPosition.newFilesNote(before: nil, after: 40).isEmpty)
        #expect(WALPosition.newFilesNote(before: 3, after: nil).isEmpty)
    }

    @Test("the WAL files and the position can be read as a superuser, and a switch moves the position into a later file")
    func filesAndPositionAreRead() async throws {
        let connection = try await PostgresConnection.connect(to: try TestPostgres.url())
        defer { Task { await connection.close() } }
        let files = try #require(await WALPosition.files(on: connection), "the test cluster's user is a superuser")
        #expect(files >= 1)
        // A switch needs WAL since the last one; a logical message writes some and no table.
        _ = try await connection.query("SELECT pg_logical_emit_message(false, 'skald-test', 'x')")
        let beforeSwitch = try #require(await WALPosition.read(on: connection))
        _ = try await connection.query("SELECT pg_switch_wal()")
        let afterSwitch = try #require(await WALPosition.read(on: connection))
        // Other suites write WAL meanwhile, so only this holds for certain: the position left
        // the file it was in, and a switch leaves nothing further in that file.
        let fileSize = 16 << 20
        #expect(afterSwitch / fileSize > beforeSwitch / fileSize, "the switch moved the position into a later 16 MB file")
    }

    @Test("`scripts/postgres.sh warm` leaves WAL files for reuse, so later WAL creates none, and cleans up only what it made")
    func warmedClusterReusesWALFiles() async throws {
        let cluster = try await TestPostgres.PrivateCluster.start("wal-warm")
        do {
            let connection = try await PostgresConnection.connect(to: cluster.url)
            defer { Task { await connection.close() } }
            // Eight switches, each into the next 16 MB file: 128 MB of WAL.
            func churn() async throws {
                for _ in 0..<8 {
                    _ = try await connection.query("SELECT pg_logical_emit_message(false, 'skald-test', 'x')")
                    _ = try await connection.query("SELECT pg_switch_wal()")
                }
            }
            let fresh = try #require(await WALPosition.files(on: connection))
            try await churn()
            let afterFreshChurn = try #require(await WALPosition.files(on: connection))
            #expect(afterFreshChurn > fresh, "a new cluster creates the files it writes into")

            try await cluster.warm(gigabytes: 1)
            let warmed = try #require(await WALPosition.files(on: connection))
            #expect(warmed >= 64, "1 GB of WAL files, 64 of them, kept for reuse")
            try await churn()
            let afterWarmChurn = try #require(await WALPosition.files(on: connection))
            #expect(afterWarmChurn <= warmed, "the WAL went into files kept for reuse, none was created")

            let leftovers = try await connection.query(
                "SELECT count(*)::bigint FROM pg_class WHERE relname LIKE 'skald_warm%'"
            ).first?.decode(Int.self, at: 0)
            #expect(leftovers == 0, "the scratch tables are gone")
            let extensions = try await connection.query(
                "SELECT count(*)::bigint FROM pg_extension WHERE extname = 'pg_prewarm'"
            ).first?.decode(Int.self, at: 0)
            #expect(extensions == 0, "pg_prewarm is dropped again")

            // An extension that was there before stays.
            _ = try await connection.query("CREATE EXTENSION pg_prewarm")
            try await cluster.warm(gigabytes: 1)
            let kept = try await connection.query(
                "SELECT count(*)::bigint FROM pg_extension WHERE extname = 'pg_prewarm'"
            ).first?.decode(Int.self, at: 0)
            #expect(kept == 1, "a pg_prewarm the cluster had before is left in place")
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }
}
