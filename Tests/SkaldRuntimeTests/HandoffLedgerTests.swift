import SkaldKafka
@testable import SkaldRuntime
import Testing

@Suite("The relay's hand-over ledger: handed rows merged with outbox reads keep each saga's order, and none is lost")
struct HandoffLedgerTests {
    /// A small deterministic generator, so a failing seed can be replayed.
    struct SplitMix {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
        mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
    }

    /// One outbox row of the model.
    struct ModelRow {
        var id: Int64
        var saga: Int
        var lane: Int
    }

    /// A saga as the orchestrator's cache sees it.
    struct ModelSaga {
        var lane: Int
        /// The epoch all its rows went by hand in; nil once one went through the outbox alone.
        var epoch: Int?
        /// Whether a committed transaction of it has not handed its rows over yet (the cache
        /// entry is stored after the hand-over, so the next transition takes the locked path).
        var handPending = false
    }

    /// Runs a random history: writers commit rows (handed when their saga qualifies, later, or
    /// through the outbox alone), lanes change hands, rounds read, publish, fail.
    /// Returns the order in which rows were published, and the rows left.
    static func run(seed: UInt64, steps: Int) -> (published: [ModelRow], left: [ModelRow], sagas: Int) {
        var random = SplitMix(state: seed)
        var ledger = HandoffLedger(capacity: 40)
        let lanes = 4
        var owned = Set(0..<lanes)
        ledger.ownership(Array(owned))
        var outbox: [Int64: ModelRow] = [:]
        var nextId: Int64 = 1
        var sagas: [ModelSaga] = []
        // Committed transactions whose rows are not handed over yet.
        var pendingHands: [(rows: [ModelRow], claims: [Int: Int], saga: Int, stepsLeft: Int)] = []
        var published: [ModelRow] = []
        let limit = 6

        for _ in 0..<steps {
            // Hand-overs come a few steps after their commit (rounds may run in between).
            var still: [(rows: [ModelRow], claims: [Int: Int], saga: Int, stepsLeft: Int)] = []
            for pending in pendingHands {
                if pending.stepsLeft > 0 {
                    still.append((pending.rows, pending.claims, pending.saga, pending.stepsLeft - 1))
                    continue
                }
                let handed = pending.rows.map { row in
                    OutboxHandoff.Row(id: row.id, lane: row.lane, message: KafkaOutgoingMessage(topic: "t", value: []))
                }
                let accepted = ledger.hand(handed, claims: pending.claims)
                sagas[pending.saga].handPending = false
                if !accepted.contains(pending.rows[0].lane) { sagas[pending.saga].epoch = nil }
            }
            pendingHands = still
            switch random.below(10) {
            case 0...4:
                // A transition: a new saga, or the next step of one.
                let index: Int
                if sagas.isEmpty || random.chance(30) {
                    let lane = random.below(lanes)
                    sagas.append(ModelSaga(lane: lane, epoch: ledger.claim(lane: lane)))
                    index = sagas.count - 1
                } else {
                    index = random.below(sagas.count)
                }
                let claim = ledger.claim(lane: sagas[index].lane)
                if sagas[index].handPending || random.chance(10) || sagas[index].epoch != claim {
                    // The locked path with a log read, a foreign writer, a lane moved: alone.
                    sagas[index].epoch = nil
                }
                var rows: [ModelRow] = []
                for _ in 0...random.below(2) {
                    rows.append(ModelRow(id: nextId, saga: index, lane: sagas[index].lane))
                    nextId += 1
                }
                for row in rows { outbox[row.id] = row }
                if let epoch = sagas[index].epoch {
                    sagas[index].handPending = true
                    pendingHands.append((rows, [sagas[index].lane: epoch], index, random.below(3)))
                } else {
                    ledger.markDatabaseMayHoldRows()
                }
            case 5:
                // A lane changes hands: given up, or taken (back).
                let lane = random.below(lanes)
                if owned.contains(lane) { owned.remove(lane) } else { owned.insert(lane) }
                ledger.ownership(Array(owned))
            default:
                // A round.
                let plan = ledger.planRound(limit: limit, heldTopics: [], pollDue: random.chance(10))
                var read: [ModelRow] = []
                var cut: Int64?
                if plan.readsDatabase {
                    let handedIds = Set(plan.handed.map(\.id))
                    read = outbox.values.filter { owned.contains($0.lane) && !handedIds.contains($0.id) }
                        .sorted { $0.id < $1.id }
                    if read.count > limit {
                        read = Array(read.prefix(limit))
                        cut = read.last?.id
                    } else if read.count == limit {
                        cut = read.last?.id
                    }
                }
                let handed = ledger.publishable(plan, readWasCutAt: cut)
                let round = (read + handed.map { row in outbox[row.id] ?? ModelRow(id: row.id, saga: -1, lane: row.lane) })
                    .sorted { $0.id < $1.id }
                let failed = random.chance(10)
                if !failed {
                    for row in round {
                        published.append(row)
                        outbox[row.id] = nil
                    }
                }
                ledger.finishRound(published: handed.map(\.id), readIds: read.map(\.id), failed: failed)
            }
        }
        // Settle: every hand-over arrives, every lane is owned, rounds run until nothing is left.
        for pending in pendingHands {
            let handed = pending.rows.map { OutboxHandoff.Row(id: $0.id, lane: $0.lane, message: KafkaOutgoingMessage(topic: "t", value: [])) }
            _ = ledger.hand(handed, claims: pending.claims)
        }
        ledger.ownership(Array(0..<lanes))
        for _ in 0..<10_000 where !outbox.isEmpty || ledger.hasHandedRows {
            let plan = ledger.planRound(limit: limit, heldTopics: [], pollDue: true)
            let handedIds = Set(plan.handed.map(\.id))
            var read = outbox.values.filter { !handedIds.contains($0.id) }.sorted { $0.id < $1.id }
            var cut: Int64?
            if read.count >= limit {
                read = Array(read.prefix(limit))
                cut = read.last?.id
            }
            let handed = ledger.publishable(plan, readWasCutAt: cut)
            let round = (read + handed.map { row in outbox[row.id] ?? ModelRow(id: row.id, saga: -1, lane: row.lane) })
                .sorted { $0.id < $1.id }
            for row in round {
                published.append(row)
                outbox[row.id] = nil
            }
            ledger.finishRound(published: handed.map(\.id), readIds: read.map(\.id), failed: false)
        }
        return (published, Array(outbox.values), sagas.count)
    }

    @Test("random histories: each saga's rows leave in the order written, each exactly once, and none stays behind", arguments: 0..<200)
    func randomHistories(seed: UInt64) {
        let (published, left, _) = Self.run(seed: seed, steps: 400)
        #expect(left.isEmpty, "seed \(seed): rows left in the outbox")
        #expect(!published.contains { $0.saga < 0 }, "seed \(seed): a handed row published after it left the outbox")
        let ids = published.map(\.id)
        #expect(Set(ids).count == ids.count, "seed \(seed): a row published twice")
        var lastBySaga: [Int: Int64] = [:]
        for row in published {
            if let last = lastBySaga[row.saga] {
                #expect(last < row.id, "seed \(seed): saga \(row.saga)'s row \(row.id) left after its row \(last)")
            }
            lastBySaga[row.saga] = row.id
        }
    }

    @Test("the histories hand rows over, read the outbox, and cut reads off: the test exercises what it checks")
    func historiesAreVaried() {
        let (published, _, sagas) = Self.run(seed: 7, steps: 400)
        #expect(sagas > 20)
        #expect(published.count > 100)
    }

    @Test("a claim counts only in the epoch it was taken in; a lane given up drops its rows")
    func epochs() {
        var ledger = HandoffLedger(capacity: 10)
        #expect(ledger.claim(lane: 3) == nil, "no lane is owned at first")
        ledger.ownership([3])
        let epoch = ledger.claim(lane: 3)
        #expect(epoch != nil)
        let row = OutboxHandoff.Row(id: 1, lane: 3, message: KafkaOutgoingMessage(topic: "t", value: []))
        // The first round reads the outbox: the lane was just taken.
        #expect(ledger.planRound(limit: 10, heldTopics: [], pollDue: false).readsDatabase)
        #expect(ledger.hand([row], claims: [3: epoch!]) == [3])
        var plan = ledger.planRound(limit: 10, heldTopics: [], pollDue: false)
        #expect(!plan.readsDatabase, "nothing but handed rows to publish")
        #expect(plan.handed.map(\.id) == [1])
        ledger.ownership([])
        ledger.ownership([3])
        #expect(!ledger.hasHandedRows, "a lane given up drops its rows: the next owner reads them")
        #expect(ledger.hand([row], claims: [3: epoch!]).isEmpty, "a claim of an earlier epoch is refused")
        plan = ledger.planRound(limit: 10, heldTopics: [], pollDue: false)
        #expect(plan.readsDatabase && plan.handed.isEmpty, "the refused row is read from the outbox")
    }

    @Test("held topics, failures, a full ledger and a cut read all send the next round to the outbox")
    func fallbacks() {
        func row(_ id: Int64, topic: String = "t") -> OutboxHandoff.Row {
            OutboxHandoff.Row(id: id, lane: 0, message: KafkaOutgoingMessage(topic: topic, value: []))
        }
        var ledger = HandoffLedger(capacity: 3)
        ledger.ownership([0])
        _ = ledger.planRound(limit: 10, heldTopics: [], pollDue: false)
        let epoch = ledger.claim(lane: 0)!

        _ = ledger.hand([row(1), row(2, topic: "held")], claims: [0: epoch])
        var plan = ledger.planRound(limit: 10, heldTopics: ["held"], pollDue: false)
        #expect(plan.readsDatabase, "a held row is left to the outbox")
        #expect(plan.handed.map(\.id) == [1])
        ledger.finishRound(published: [1], readIds: [], failed: true)
        plan = ledger.planRound(limit: 10, heldTopics: [], pollDue: false)
        #expect(plan.readsDatabase, "an undelivered round is read again from the outbox")
        #expect(plan.handed.isEmpty)

        #expect(ledger.hand([row(3), row(4), row(5), row(6)], claims: [0: epoch]).isEmpty, "past the capacity")
        plan = ledger.planRound(limit: 10, heldTopics: [], pollDue: false)
        #expect(plan.readsDatabase && plan.handed.isEmpty)

        _ = ledger.hand([row(7), row(9)], claims: [0: epoch])
        plan = ledger.planRound(limit: 10, heldTopics: [], pollDue: true)
        #expect(ledger.publishable(plan, readWasCutAt: 8).map(\.id) == [7], "rows past a cut read wait")
        ledger.finishRound(published: [7], readIds: [3, 8], failed: false)
        #expect(ledger.planRound(limit: 10, heldTopics: [], pollDue: false).readsDatabase, "and the outbox is read again")
        #expect(ledger.hand([row(8)], claims: [0: epoch]) == [0])
        #expect(ledger.planRound(limit: 10, heldTopics: [], pollDue: false).handed.map(\.id) == [9],
            "a row a read already published is not taken again when its writer hands it over late")
    }
}
