import Foundation
import SkaldPostgres
import Testing

@Suite("LISTEN / NOTIFY")
struct ListenNotifyTests {
    @Test func notificationsAreDelivered() async throws {
        let channel = TestDatabase.uniqueName("Chan")  // mixed case survives quoting
        let other = TestDatabase.uniqueName("other")
        let listener = try await PostgresListener.connect(to: try TestDatabase.url(), channels: [channel, other])
        let sender = try await TestDatabase.connect()

        let payloads = ["first", "zweite 🎈", "第三"]
        for payload in payloads {
            try await sender.notify(channel: channel, payload: payload)
        }
        try await sender.notify(channel: other)

        var received: [PostgresNotification] = []
        for try await notification in listener.notifications {
            received.append(notification)
            if received.count == 4 { break }
        }
        #expect(received.prefix(3).map(\.payload) == payloads)
        #expect(received.prefix(3).allSatisfy { $0.channel == channel })
        #expect(received[3].channel == other && received[3].payload.isEmpty)
        #expect(received.allSatisfy { $0.senderPID == sender.backendPID })
        await sender.close()
        listener.stop()
    }

    @Test func stopFinishesTheStream() async throws {
        let listener = try await PostgresListener.connect(to: try TestDatabase.url(), channels: [TestDatabase.uniqueName("stop")])
        listener.stop()
        var count = 0
        for try await _ in listener.notifications { count += 1 }
        #expect(count == 0)
    }

    @Test func terminatedListenerConnectionEndsWithAnError() async throws {
        let channel = TestDatabase.uniqueName("killed")
        let listener = try await PostgresListener.connect(to: try TestDatabase.url(), channels: [channel])
        try await TestDatabase.withConnection { admin async throws in
            // Find the listener's backend by what it listens to and terminate it.
            let killed = try await admin.query("""
                SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                WHERE query = \("LISTEN " + PostgresQuery.quoteIdentifier(channel))
                """)
            #expect(killed.count == 1)
        }
        let error = await expectPostgresError {
            for try await _ in listener.notifications {}
        }
        #expect(error?.isConnectionLost == true)
    }

    @Test func badListenerInput() async throws {
        let empty = await expectPostgresError { _ = try await PostgresListener.connect(to: try TestDatabase.url(), channels: []) }
        #expect(empty?.code == .invalidArgument)
        let unreachable = await expectPostgresError {
            _ = try await PostgresListener.connect(to: "postgres://postgres@127.0.0.1:1/skald", channels: ["x"], connectTimeout: 2)
        }
        #expect(unreachable?.code == .connection)
    }
}
