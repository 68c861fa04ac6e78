package import SkaldKafka
import Synchronization

/// Outbox rows handed to this process's ``OutboxRelay`` by the transactions that wrote them,
/// once they committed, so that the relay publishes them without reading them back.
///
/// Reading the rows back cost Postgres about a tenth of its time in the end-to-end benchmark,
/// and the relay a parse of every row's headers (docs/benchmarks-e2e.md, session 17). The
/// outbox stays the truth: every row is still written in its cause's transaction and deleted
/// once Kafka took it, and whatever is not handed over (another process's rows, a crash
/// between commit and hand-over, a lane changing hands) is read from the outbox as before.
///
/// A writer hands over only rows whose order it vouches for:
/// 1. before its transaction commits, it claims each row's lane (``claim(lane:)``): the relay
///    owns the lane, in some ownership epoch;
/// 2. a row may go by hand only if every older outbox row of the same saga went by hand in
///    that same epoch: the orchestrator knows this from its instance cache (the saga was
///    started in this process, and every transition since was committed here, by hand);
/// 3. rows it does not hand over are announced as before (`NOTIFY`, ``OutboxRelay/wake()``).
/// After the commit, ``hand(_:claims:)`` takes the rows whose lanes are still in the claimed
/// epoch. The relay merges handed rows with any it reads, in id order, as one round
/// (``HandoffLedger``).
package final class OutboxHandoff: Sendable {
    /// A committed outbox row, ready to publish.
    package struct Row: Sendable {
        /// The row's `id` in the outbox.
        package var id: Int64
        /// Its lane (``OutboxRelay/lane(ofSaga:)``).
        package var lane: Int
        /// The message it publishes: exactly what the relay would read from the row.
        package var message: KafkaOutgoingMessage

        /// A row with its id, lane and message.
        package init(id: Int64, lane: Int, message: KafkaOutgoingMessage) {
            self.id = id
            self.lane = lane
            self.message = message
        }
    }

    private let ledger: Mutex<HandoffLedger>
    private let wakeup: Wakeup

    /// A hand-over for a relay woken by `wakeup`, holding at most `capacity` rows: past it
    /// (Kafka unreachable, say), rows stay in the outbox and are read from there.
    init(capacity: Int, wakeup: Wakeup) {
        ledger = Mutex(HandoffLedger(capacity: capacity))
        self.wakeup = wakeup
    }

    /// The epoch a writer claims `lane` in, before its transaction commits; nil when the relay
    /// does not own the lane, and the row must go through the outbox alone.
    package func claim(lane: Int) -> Int? {
        ledger.withLock { $0.claim(lane: lane) }
    }

    /// Hands committed rows over; `claims` maps each of their lanes to the epoch claimed.
    /// Returns the lanes whose rows the relay took; the others' rows are read from the outbox.
    @discardableResult
    package func hand(_ rows: [Row], claims: [Int: Int]) -> Set<Int> {
        guard !rows.isEmpty || !claims.isEmpty else { return [] }
        let accepted = ledger.withLock { $0.hand(rows, claims: claims) }
        wakeup.ring()
        return accepted
    }

    /// Says that rows were written to the outbox without being handed over, and wakes the relay.
    package func announceRowsInDatabase() {
        ledger.withLock { $0.markDatabaseMayHoldRows() }
        wakeup.ring()
    }

    func ownership(_ lanes: [Int]) {
        ledger.withLock { $0.ownership(lanes) }
    }

    func planRound(limit: Int, heldTopics: Set<String>, pollDue: Bool) -> HandoffLedger.RoundPlan {
        ledger.withLock { $0.planRound(limit: limit, heldTopics: heldTopics, pollDue: pollDue) }
    }

    func publishable(_ plan: HandoffLedger.RoundPlan, readWasCutAt lastReadId: Int64?) -> [Row] {
        ledger.withLock { $0.publishable(plan, readWasCutAt: lastReadId) }
    }

    func finishRound(published ids: [Int64], readIds: [Int64], failed: Bool) {
        ledger.withLock { $0.finishRound(published: ids, readIds: readIds, failed: failed) }
    }

    /// Whether handed rows wait for a round.
    var hasHandedRows: Bool {
        ledger.withLock { $0.hasHandedRows }
    }
}
