import SkaldKafka

/// What an ``OutboxHandoff`` knows, as a value: the rows handed over and not yet published,
/// the lanes the relay owns and in which ownership epoch, and whether the outbox may hold
/// rows of those lanes that were not handed over.
///
/// The relay may publish a handed row without reading the outbox only while every older row
/// of the same saga is handed over too, or already published. Writers make sure of that for
/// their own rows (``OutboxHandoff/claim(lane:)``); the ledger keeps the rest:
/// - a lane taken over may hold rows of the relay before, a row refused or dropped stays in
///   the outbox, a row whose delivery failed stays there too: each sets
///   ``databaseMayHoldRows``, and the next round reads the outbox as well, merging by id;
/// - a read cut off by its limit leaves the rows past it unread, so handed rows past it
///   wait (`databaseMayHoldRows` stays set);
/// - a lane given up or lost drops its handed rows (they are in the outbox, for the next
///   owner) and moves to a new epoch, so claims taken before no longer count.
///
/// No I/O and no clock: the relay calls it under a lock.
struct HandoffLedger {
    /// A committed row ready to publish.
    typealias Row = OutboxHandoff.Row

    /// The most rows held; a hand that would pass it is refused and its rows stay in the outbox.
    let capacity: Int
    /// Per lane: bumped whenever this relay takes the lane or gives it up.
    private(set) var epochs = [Int](repeating: 0, count: OutboxRelay.laneCount)
    /// Per lane: whether this relay owns it.
    private(set) var owned = [Bool](repeating: false, count: OutboxRelay.laneCount)
    /// Handed rows not yet published, by id.
    private(set) var rows: [Int64: Row] = [:]
    /// Whether the owned lanes may hold rows in the outbox that are not in ``rows``.
    private(set) var databaseMayHoldRows = true
    /// Ids the last rounds published from the outbox, newest last: a writer that hands a row
    /// over only after a read found and published it would otherwise have it sent twice.
    private var recentlyRead: [[Int64]] = []
    /// The ids of ``recentlyRead``, for lookups.
    private var recentlyReadIds: Set<Int64> = []
    /// How many rounds' ids ``recentlyRead`` keeps.
    static let recentRounds = 8

    init(capacity: Int) {
        self.capacity = max(0, capacity)
    }

    /// The epoch a writer may claim `lane` in, before it commits: nil when this relay does not own it.
    func claim(lane: Int) -> Int? {
        owned.indices.contains(lane) && owned[lane] ? epochs[lane] : nil
    }

    /// Takes committed rows whose lanes were claimed in `claims` (lane → epoch). Returns the
    /// lanes whose claims still hold; rows of the others stay in the outbox.
    ///
    /// A refused claim on a lane the relay owns now (taken again since, or too many rows held)
    /// leaves rows there that nothing else announces: the outbox is read next round.
    mutating func hand(_ handed: [Row], claims: [Int: Int]) -> Set<Int> {
        var accepted: Set<Int> = []
        for (lane, epoch) in claims where claim(lane: lane) == epoch { accepted.insert(lane) }
        if rows.count + handed.count > capacity { accepted = [] }
        if accepted.count < claims.count { databaseMayHoldRows = true }
        guard !accepted.isEmpty else { return accepted }
        for row in handed where accepted.contains(row.lane) && !recentlyReadIds.contains(row.id) {
            rows[row.id] = row
        }
        return accepted
    }

    /// Notes rows written to the outbox and not handed over (another process, a path that
    /// does not hand, a lost notification): the next round reads the outbox.
    mutating func markDatabaseMayHoldRows() {
        databaseMayHoldRows = true
    }

    /// Records the lanes the relay owns now. A lane taken means a read of the outbox; a lane
    /// given up drops its handed rows, which the next owner reads from the outbox.
    mutating func ownership(_ lanes: [Int]) {
        let now = Set(lanes)
        for lane in owned.indices where owned[lane] != now.contains(lane) {
            epochs[lane] += 1
            owned[lane] = now.contains(lane)
            if owned[lane] {
                databaseMayHoldRows = true
            } else {
                rows = rows.filter { $0.value.lane != lane }
            }
        }
    }

    /// What one round starts from.
    struct RoundPlan {
        /// Handed rows to publish, in id order (at most the round's limit).
        var handed: [Row]
        /// Whether the round reads the outbox too.
        var readsDatabase: Bool
    }

    /// Plans a round of at most `limit` handed rows. Rows for `heldTopics` (open or half-open
    /// circuits) are dropped: they wait in the outbox, where the relay's reads of probes find
    /// them. `pollDue`: the polling interval has passed since the last read.
    ///
    /// A round that reads the outbox clears ``databaseMayHoldRows`` now, so that anything
    /// marked while it runs is read by the next one.
    mutating func planRound(limit: Int, heldTopics: Set<String>, pollDue: Bool) -> RoundPlan {
        if !heldTopics.isEmpty {
            let before = rows.count
            rows = rows.filter { !heldTopics.contains($0.value.message.topic) }
            if rows.count < before { databaseMayHoldRows = true }
        }
        let readsDatabase = databaseMayHoldRows || pollDue
        if readsDatabase { databaseMayHoldRows = false }
        let handed = rows.values.sorted { $0.id < $1.id }.prefix(max(0, limit))
        return RoundPlan(handed: Array(handed), readsDatabase: readsDatabase)
    }

    /// The handed rows a round publishes, given its read of the outbox: all of them, or, when
    /// the read stopped at its limit (`lastReadId` the last id it got), only those before it,
    /// since older rows of their sagas may lie past the limit.
    mutating func publishable(_ plan: RoundPlan, readWasCutAt lastReadId: Int64?) -> [Row] {
        guard let lastReadId else { return plan.handed }
        databaseMayHoldRows = true
        return plan.handed.filter { $0.id < lastReadId }
    }

    /// Ends a round: its rows leave the ledger, delivered or not (an undelivered row is still
    /// in the outbox, so the next round reads it from there); `readIds` are the ids it
    /// published from the outbox. Those leave the ledger too: a row handed over but past the
    /// round's share of handed rows is not kept out of its read.
    mutating func finishRound(published ids: [Int64], readIds: [Int64], failed: Bool) {
        for id in ids { rows[id] = nil }
        for id in readIds { rows[id] = nil }
        if failed { databaseMayHoldRows = true }
        if !readIds.isEmpty {
            recentlyRead.append(readIds)
            recentlyReadIds.formUnion(readIds)
            if recentlyRead.count > Self.recentRounds {
                recentlyReadIds.subtract(recentlyRead.removeFirst())
            }
        }
    }

    /// Whether handed rows wait for a round.
    var hasHandedRows: Bool { !rows.isEmpty }
}
