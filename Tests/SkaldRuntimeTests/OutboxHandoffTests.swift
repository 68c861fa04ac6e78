import Foundation
import Logging
import ServiceLifecycle
import Skald
import SkaldKafka
import SkaldPostgres
@testable import SkaldRuntime
import SkaldTestSupport
import Testing

@Suite("Rows handed to the relay: published without a read, merged with the outbox in each saga's order", .serialized)
struct OutboxHandoffTests {
    private static let topic = TransferTopics.all[0]

    /// Writes one command of `sagaId` in its own transaction; handed over after the commit
    /// when `handing`, else left to the outbox alone (as another process's row).
    private static func write(
        _ commandId: String, sagaId: String, on connection: PostgresConnection, relay: OutboxRelay, handing: Bool
    ) async throws {
        var rows = OutboxRows()
        let envelope = MessageEnvelope(id: commandId, source: "skald/Transfer", type: "Debit", sagaId: sagaId)
        rows.append(
            messageId: commandId, sagaId: sagaId, topic: topic, key: sagaId, envelope: envelope,
            payload: Array(#"{"command": "\#(commandId)"}"#.utf8),
            handingIn: handing ? relay.handoff.claim(lane: OutboxRelay.lane(ofSaga: sagaId)) : nil)
        try await connection.query("BEGIN")
        let inserted = try await connection.query(rows.statement)
        try await connection.query("COMMIT")
        if handing {
            let pending = try rows.handoff(from: inserted)
            #expect(pending.rows.count == 1)
            #expect(pending.deliver(to: relay.handoff) == [OutboxRelay.lane(ofSaga: sagaId)])
        }
    }

    @Test("handed rows go out without a read; another writer's older row of the same saga goes first once the outbox is read; each once, then deleted")
    func handedAndRead() async throws {
        let url = try await TestPostgres.freshStore("handoff")
        let cluster = try transferCluster()
        defer { cluster.shutdown() }
        let pool = PostgresPool(url: url, minimumConnections: 1, maximumConnections: 2)
        let producer = try KafkaProducer(configuration: mockKafka(cluster))
        // Each round deletes its rows at its end, so the outbox shows what each round published.
        let relay = OutboxRelay(postgresURL: url, pool: pool, producer: producer, forgetDelay: .zero)
        let lanes = Array(0..<OutboxRelay.laneCount)
        relay.handoff.ownership(lanes)
        // Lanes just taken: the first round reads the outbox (empty).
        #expect(try await relay.relayRound(lanes: lanes, pollDue: false).forgotten == 0)
        let connection = try await PostgresConnection.connect(to: url)

        // Another process's row, announced by nothing: a round without a poll does not see it.
        try await Self.write("a/1", sagaId: "a", on: connection, relay: relay, handing: false)
        try await Self.write("b/1", sagaId: "b", on: connection, relay: relay, handing: true)
        #expect(try await relay.relayRound(lanes: lanes, pollDue: false).forgotten == 1, "the handed row alone")
        #expect(try await TestPostgres.strings(url, "SELECT message_id FROM outbox") == ["a/1"])

        // Saga a's next command is handed over: the poll's read merges a/1 in before it.
        try await Self.write("a/2", sagaId: "a", on: connection, relay: relay, handing: true)
        #expect(try await relay.relayRound(lanes: lanes, pollDue: true).forgotten == 2)
        #expect(try await TestPostgres.count(url, "SELECT count(*)::bigint FROM outbox") == 0)
        // Nothing is left to publish twice.
        #expect(try await relay.relayRound(lanes: lanes, pollDue: true).forgotten == 0)
        await connection.close()
        await producer.shutdown()
        await pool.close()

        let messages = try await consumeAll(cluster, topic: Self.topic, expecting: 3)
        #expect(messages.compactMap(\.keyString).sorted() == ["a", "a", "b"], "each command once")
        let sagaA = messages.filter { $0.keyString == "a" }.map { $0.headers.first(named: "ce_id").map { String(decoding: $0, as: UTF8.self) } }
        #expect(sagaA == ["a/1", "a/2"], "saga a's commands in the order written")
        #expect(messages.first { $0.keyString == "b" }?.valueString == #"{"command": "b/1"}"#, "the payload as written")
    }

    @Test("delivered rows wait to be deleted together, and a read of the outbox deletes them first instead of publishing them again")
    func deliveredRowsWait() async throws {
        let url = try await TestPostgres.freshStore("handoff")
        let cluster = try transferCluster()
        defer { cluster.shutdown() }
        let pool = PostgresPool(url: url, minimumConnections: 1, maximumConnections: 2)
        let producer = try KafkaProducer(configuration: mockKafka(cluster))
        // Only a read, a full round's worth or an explicit delete make them go.
        let relay = OutboxRelay(postgresURL: url, pool: pool, producer: producer, forgetDelay: .seconds(3_600))
        let lanes = Array(0..<OutboxRelay.laneCount)
        relay.handoff.ownership(lanes)
        #expect(try await relay.relayRound(lanes: lanes, pollDue: false).forgotten == 0)
        let connection = try await PostgresConnection.connect(to: url)

        try await Self.write("e/1", sagaId: "e", on: connection, relay: relay, handing: true)
        try await Self.write("e/2", sagaId: "e", on: connection, relay: relay, handing: true)
        #expect(try await relay.relayRound(lanes: lanes, pollDue: false).forgotten == 2)
        #expect(
            try await TestPostgres.strings(url, "SELECT message_id FROM outbox ORDER BY id") == ["e/1", "e/2"],
            "delivered, waiting to be deleted")

        // Another process's row: the read that finds it deletes the waiting rows before it reads.
        try await Self.write("f/1", sagaId: "f", on: connection, relay: relay, handing: false)
        #expect(try await relay.relayRound(lanes: lanes, pollDue: true).forgotten == 1, "f/1 alone, not e/1 and e/2 again")
        #expect(try await TestPostgres.strings(url, "SELECT message_id FROM outbox") == ["f/1"])
        try await relay.forgetDelivered()
        #expect(try await TestPostgres.count(url, "SELECT count(*)::bigint FROM outbox") == 0)
        await connection.close()
        await producer.shutdown()
        await pool.close()

        let messages = try await consumeAll(cluster, topic: Self.topic, expecting: 3)
        let ids = messages.compactMap { $0.headers.first(named: "ce_id").map { String(decoding: $0, as: UTF8.self) } }
        #expect(ids.sorted() == ["e/1", "e/2", "f/1"], "each row published once")
    }

    @Test("a relay stopped gracefully deletes the rows it delivered before it returns")
    func stopDeletesDelivered() async throws {
        let url = try await TestPostgres.freshStore("handoff")
        let cluster = try transferCluster()
        defer { cluster.shutdown() }
        let pool = PostgresPool(url: url, minimumConnections: 1, maximumConnections: 3)
        let producer = try KafkaProducer(configuration: mockKafka(cluster))
        let relay = OutboxRelay(
            postgresURL: url, pool: pool, producer: producer, pollInterval: .seconds(30), forgetDelay: .seconds(3_600))
        let group = ServiceGroup(services: [relay], logger: Logger(label: "test"))
        let running = Task { try await group.run() }
        let connection = try await PostgresConnection.connect(to: url)
        try await eventually("the relay owns its lanes") { relay.handoff.claim(lane: OutboxRelay.lane(ofSaga: "g")) != nil }
        try await Self.write("g/1", sagaId: "g", on: connection, relay: relay, handing: true)
        _ = try await consumeAll(cluster, topic: Self.topic, expecting: 1)
        await group.triggerGracefulShutdown()
        try await running.value
        #expect(try await TestPostgres.count(url, "SELECT count(*)::bigint FROM outbox") == 0)
        await connection.close()
        await producer.shutdown()
        await pool.close()
    }

    @Test("a running relay publishes handed rows at once, and reads an announced row of a process that handed nothing")
    func runningRelay() async throws {
        let url = try await TestPostgres.freshStore("handoff")
        let cluster = try transferCluster()
        defer { cluster.shutdown() }
        let pool = PostgresPool(url: url, minimumConnections: 1, maximumConnections: 3)
        let producer = try KafkaProducer(configuration: mockKafka(cluster))
        // A long poll: only the hand-over and the announcement can explain a quick publish.
        let relay = OutboxRelay(postgresURL: url, pool: pool, producer: producer, pollInterval: .seconds(30))
        let running = Task { try await relay.run() }
        let connection = try await PostgresConnection.connect(to: url)
        // The relay takes its lanes at its first refresh.
        let clock = ContinuousClock()
        let start = clock.now
        while relay.handoff.claim(lane: OutboxRelay.lane(ofSaga: "c")) == nil && clock.now - start < .seconds(10) {
            try await Task.sleep(for: .milliseconds(20))
        }
        try await Self.write("c/1", sagaId: "c", on: connection, relay: relay, handing: true)
        try await Self.waitUntilEmpty(url)
        try await Self.write("d/1", sagaId: "d", on: connection, relay: relay, handing: false)
        relay.wake()
        try await Self.waitUntilEmpty(url)
        running.cancel()
        _ = try? await running.value
        await connection.close()
        await producer.shutdown()
        await pool.close()
        let messages = try await consumeAll(cluster, topic: Self.topic, expecting: 2)
        #expect(messages.compactMap(\.keyString).sorted() == ["c", "d"])
    }

    private static func waitUntilEmpty(_ url: String) async throws {
        let clock = ContinuousClock()
        let start = clock.now
        while try await TestPostgres.count(url, "SELECT count(*)::bigint FROM outbox") > 0 {
            #expect(clock.now - start < .seconds(10), "the outbox was not emptied within 10 s")
            if clock.now - start >= .seconds(10) { return }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
