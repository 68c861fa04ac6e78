import Foundation
import SkaldPostgres
import SkaldRuntime
import SkaldTestSupport
import Testing

@Suite("Outbox notifications: one channel per schema")
struct OutboxNotificationTests {
    /// A session on `base` whose search path is `schema` (created first).
    private func session(in schema: String, base: String) async throws -> PostgresConnection {
        let connection = try await PostgresConnection.connect(to: base)
        try await connection.query("CREATE SCHEMA IF NOT EXISTS \(identifier: schema)")
        try await connection.query(PostgresQuery("SET search_path TO " + PostgresQuery.quoteIdentifier(schema)))
        return connection
    }

    private func channel(on connection: PostgresConnection) async throws -> String {
        try await connection.query(PostgresQuery("SELECT " + OutboxRelay.notificationChannelSQL)).first!.decode(String.self, at: 0)
    }

    @Test("a relay hears its own schema's writers only, even for a long non-ASCII schema name")
    func channelPerSchema() async throws {
        let base = try TestPostgres.url()
        let tag = UUID().uuidString.prefix(6).lowercased()
        // 62 bytes: the name of this schema alone would make a channel too long for pg_notify.
        let long = "\(tag)_" + String(repeating: "é", count: (62 - tag.count - 1) / 2)
        let other = "notify_\(tag)"
        let writer = try await session(in: long, base: base)
        let neighbour = try await session(in: other, base: base)
        defer {
            Task {
                _ = try? await writer.query("DROP SCHEMA \(identifier: long)")
                _ = try? await writer.query("DROP SCHEMA \(identifier: other)")
                await writer.close()
                await neighbour.close()
            }
        }
        let mine = try await channel(on: writer)
        let theirs = try await channel(on: neighbour)
        #expect(mine != theirs)
        #expect(mine.utf8.count < 64, "pg_notify refuses channels of 64 bytes or more")

        let listener = try await PostgresListener.connect(to: base, channels: [mine])
        defer { listener.stop() }
        try await neighbour.query(PostgresQuery(OutboxRelay.notifySQL))
        try await writer.query(PostgresQuery(OutboxRelay.notifySQL))
        var iterator = listener.notifications.makeAsyncIterator()
        let first = try await iterator.next()
        // The neighbour notified first, on its own channel: the listener hears the writer only.
        #expect(first?.channel == mine)
        #expect(first?.senderPID == writer.backendPID)
    }
}
