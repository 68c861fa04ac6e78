import SkaldPostgres

/// The Postgres cluster's WAL write position, for the bytes a run wrote, and its WAL files,
/// for the files it created.
///
/// CPU time per saga moves by a tenth or more between identical runs on a shared 2-core
/// machine; the WAL a run writes moves far less, so it shows what a change did to the
/// statements when throughput and CPU time cannot tell.
enum WALPosition {
    /// The position in bytes since the start of the WAL.
    static let query: PostgresQuery = "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint"

    /// The number of files in the cluster's WAL directory (`pg_ls_waldir`, which needs a
    /// superuser or `pg_monitor`).
    ///
    /// At a checkpoint Postgres keeps used WAL files for reuse by renaming them, so the number
    /// grows only where it creates a file, and it writes a new one full of zeros before its
    /// first use. On a new cluster that was a tenth of the machine's CPU in a 20,000-saga burst
    /// (docs/benchmarks-e2e.md, session 26), which a database that has run for a while does not
    /// pay: a run that created files measured a new cluster, not the saga system.
    static let filesQuery: PostgresQuery = "SELECT count(*)::bigint FROM pg_ls_waldir()"

    /// The position now, or nil where it cannot be read.
    static func read(on connection: PostgresConnection) async -> Int? {
        try? await connection.query(query).first?.decode(Int.self, at: 0)
    }

    /// The number of WAL files now, or nil where it cannot be read.
    static func files(on connection: PostgresConnection) async -> Int? {
        try? await connection.query(filesQuery).first?.decode(Int.self, at: 0)
    }

    /// What a summary says about the WAL files a run created: nothing when it created none or
    /// when either count is unknown, otherwise how many at least and how to avoid them.
    ///
    /// Two counts give a lower bound: a checkpoint during the run may remove older files
    /// while new ones are made.
    static func newFilesNote(before: Int?, after: Int?) -> String {
        guard let before, let after, after > before else { return "" }
        let files = after - before == 1 ? "1 new WAL file" : "\(after - before) new WAL files"
        return "; at least \(files), each written full of zeros first as on a new cluster (scripts/postgres.sh warm readies them)"
    }
}
