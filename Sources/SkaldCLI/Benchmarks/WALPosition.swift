import SkaldPostgres

/// The Postgres cluster's WAL insert position, for the bytes a run wrote.
///
/// CPU time per saga moves by a tenth or more between identical runs on a shared 2-core
/// machine; the WAL a run writes moves far less, so it shows what a change did to the
/// statements when throughput and CPU time cannot tell.
enum WALPosition {
    /// The position in bytes since the start of the WAL.
    static let query: PostgresQuery = "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint"

    /// The position now, or nil where it cannot be read.
    static func read(on connection: PostgresConnection) async -> Int? {
        try? await connection.query(query).first?.decode(Int.self, at: 0)
    }
}
