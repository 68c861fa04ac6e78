import SkaldPostgres
import SkaldTestSupport
import Testing

@testable import SkaldCLI

/// What the benchmarks' and the demo's summaries read about the cluster's WAL.
@Suite("WAL position and files, for the summaries")
struct WALPositionTests {
    @Test("the note names the WAL files a run created, and says nothing when it created none or a count is unknown")
    func newFilesNote() {
        #expect(WALPosition.newFilesNote(before: 3, after: 40).hasPrefix("; 37 new WAL files, each written full of zeros first"))
        #expect(WALPosition.newFilesNote(before: 3, after: 4).hasPrefix("; 1 new WAL file, "))
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
        let filesBefore = try #require(await WALPosition.files(on: connection), "the test cluster's user is a superuser")
        let positionBefore = try #require(await WALPosition.read(on: connection))
        // A switch needs WAL since the last one; a temporary table writes none, a real one does.
        _ = try await connection.query("CREATE TABLE IF NOT EXISTS wal_position_test (n int)")
        _ = try await connection.query("INSERT INTO wal_position_test VALUES (1)")
        _ = try await connection.query("SELECT pg_switch_wal()")
        _ = try await connection.query("INSERT INTO wal_position_test VALUES (2)")
        let positionAfter = try #require(await WALPosition.read(on: connection))
        let filesAfter = try #require(await WALPosition.files(on: connection))
        _ = try await connection.query("DROP TABLE wal_position_test")
        #expect(positionAfter > positionBefore)
        // Other suites write WAL too, and a checkpoint may recycle files meanwhile: the position
        // crossed into another file, and a count was read both times.
        #expect(positionAfter / (16 << 20) > positionBefore / (16 << 20), "the switch moved the position into a later 16 MB file")
        #expect(filesAfter >= 1 && filesBefore >= 1)
    }

    @Test("`scripts/postgres.sh warm` leaves WAL files for reuse, so later WAL creates none, and cleans up after itself")
    func warmedClusterReusesWALFiles() async throws {
        let cluster = try await TestPostgres.PrivateCluster.start("wal-warm")
        do {
            let connection = try await PostgresConnection.connect(to: cluster.url)
            defer { Task { await connection.close() } }
            _ = try await connection.query("CREATE TABLE wal_churn (n int)")
            /// Eight switches, each into the next 16 MB file: 128 MB of WAL.
            func churn() async throws {
                for n in 0..<8 {
                    _ = try await connection.query("INSERT INTO wal_churn VALUES (\(n))")
                    _ = try await connection.query("SELECT pg_switch_wal()")
                }
            }
            let fresh = try #require(await WALPosition.files(on: connection))
            try await churn()
            let afterFreshChurn = try #require(await WALPosition.files(on: connection))
            #expect(afterFreshChurn > fresh, "a new cluster creates the files it writes into")

            try await cluster.warm()
            let warmed = try #require(await WALPosition.files(on: connection))
            #expect(warmed >= 64, "1 GB of WAL files kept for reuse")
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
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }
}
