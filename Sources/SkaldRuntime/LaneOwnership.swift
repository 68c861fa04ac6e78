import Logging
import SkaldPostgres

/// The outbox lanes this relay owns, held as session advisory locks on a connection of their own.
///
/// Losing the connection loses the locks (the server releases them), so ownership is
/// re-checked on every refresh and rebuilt on a new connection when it broke.
struct LaneOwnership {
    let postgresURL: String
    let logger: Logger
    private(set) var owned: [Int] = []
    private var connection: PostgresConnection?

    init(postgresURL: String, logger: Logger) {
        self.postgresURL = postgresURL
        self.logger = logger
    }

    /// Keeps the lanes still held and tries to take the free ones.
    mutating func refresh() async {
        do {
            if let current = connection, await !current.checkAlive() {
                logger.warning("outbox lane session lost; taking lanes again")
                connection = nil
                owned = []
            }
            let session: PostgresConnection
            if let current = connection {
                session = current
            } else {
                session = try await PostgresConnection.connect(to: postgresURL, logger: logger)
                connection = session
            }
            let held = Set(owned)
            for lane in 0..<OutboxRelay.laneCount where !held.contains(lane) {
                // Keyed by the schema too: orchestrators of different stores in one database
                // (tests, side-by-side deployments) must not take each other's lanes.
                let key = Int(OutboxRelay.laneLockBase32) + lane
                let taken = try await session.query(
                    "SELECT pg_try_advisory_lock(hashtext(current_schema()), \(key)::integer)"
                ).first?.decode(Bool.self, at: 0)
                if taken == true { owned.append(lane) }
            }
            owned.sort()
        } catch {
            logger.warning("could not take outbox lanes", metadata: ["error": "\(error)"])
            connection = nil
            owned = []
        }
    }

    /// Gives every lane up by closing the session.
    mutating func release() {
        let session = connection
        connection = nil
        owned = []
        if let session {
            Task { await session.close() }
        }
    }
}
