import Logging
import SkaldPostgres

/// The outbox lanes this relay owns, held as session advisory locks on a connection of their own.
///
/// Losing the connection loses the locks (the server releases them), so ownership is
/// re-checked on every refresh and rebuilt on a new connection when it broke.
///
/// Relays of one schema share the lanes evenly: each also holds a shared "member" lock, counts
/// the members at every refresh, and keeps at most its share (16 lanes over the members, rounded
/// up), giving back the rest for the others to take at their next refresh. Before, the first
/// relay took every lane and the others only waited for it to die, so a second orchestrator
/// shared the pump's work but none of the relay's. A lane changes hands only between rounds (the
/// relay refreshes between them and each round deletes what it published), so a saga's messages
/// still leave in order.
struct LaneOwnership {
    let postgresURL: String
    let logger: Logger
    private(set) var owned: [Int] = []
    private var connection: PostgresConnection?
    /// Whether this relay's session holds the member lock.
    private var isMember = false
    /// The member lock's second key: next to the lanes' (`OutboxRelay.laneLockBase32 + lane`).
    static let memberKey = Int(OutboxRelay.laneLockBase32) - 1

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
                isMember = false
            }
            let session: PostgresConnection
            if let current = connection {
                session = current
            } else {
                session = try await PostgresConnection.connect(to: postgresURL, logger: logger)
                connection = session
            }
            // Keyed by the schema too: orchestrators of different stores in one database
            // (tests, side-by-side deployments) must not take each other's lanes.
            if !isMember {
                isMember =
                    try await session.query(
                        "SELECT pg_try_advisory_lock_shared(hashtext(current_schema()), \(Self.memberKey)::integer)"
                    ).first?.decode(Bool.self, at: 0) == true
            }
            let members = try await session.query(
                """
                SELECT count(*)::bigint FROM pg_locks
                WHERE locktype = 'advisory' AND granted AND objsubid = 2
                  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                  AND classid = (hashtext(current_schema())::bigint & 4294967295)::oid
                  AND objid = \(Self.memberKey)::bigint::oid
                """
            ).first?.decode(Int.self, at: 0) ?? 1
            let share = Self.share(members: members)
            while owned.count > share, let lane = owned.popLast() {
                _ = try await session.query(
                    "SELECT pg_advisory_unlock(hashtext(current_schema()), \(Self.key(of: lane))::integer)")
            }
            let held = Set(owned)
            for lane in 0..<OutboxRelay.laneCount where !held.contains(lane) && owned.count < share {
                let taken = try await session.query(
                    "SELECT pg_try_advisory_lock(hashtext(current_schema()), \(Self.key(of: lane))::integer)"
                ).first?.decode(Bool.self, at: 0)
                if taken == true { owned.append(lane) }
            }
            owned.sort()
        } catch {
            logger.warning("could not take outbox lanes", metadata: ["error": "\(error)"])
            // Closed, not just dropped: a session left open would keep its lanes from the others.
            release()
        }
    }

    /// The lanes each of `members` relays keeps at most: all of them for one.
    static func share(members: Int) -> Int {
        let members = max(1, members)
        return (OutboxRelay.laneCount + members - 1) / members
    }

    /// The second key of `lane`'s advisory lock.
    static func key(of lane: Int) -> Int {
        Int(OutboxRelay.laneLockBase32) + lane
    }

    /// Gives every lane up by closing the session.
    mutating func release() {
        let session = connection
        connection = nil
        owned = []
        isMember = false
        if let session {
            Task { await session.close() }
        }
    }
}
