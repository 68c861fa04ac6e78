import Foundation
import SkaldTestSupport
import SkaldPostgres
import Logging
import Testing

@testable import SkaldCLI

/// `skald serve` reads a JSON file (then the environment, then flags); these use the file, since
/// the environment is shared by every test in the process.
@Suite("skald serve settings: the inbox retention, the admin server")
struct ServeSettingsTests {
    private func load(_ json: String) async throws -> ServeSettings {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("skald-serve-\(UUID().uuidString).json")
        try Data(json.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        return try await ServeSettings.load(configFile: file.path, postgres: "postgres://127.0.0.1:1/none", kafka: "127.0.0.1:1")
    }

    @Test("14 days unless set; 0 keeps ids forever; a negative value is refused with the key's name")
    func inboxRetention() async throws {
        #expect(try await load("{}").orchestrator.inboxRetention == .seconds(1_209_600))
        #expect(try await load(#"{"skald": {"inbox": {"retentionSeconds": 3600}}}"#).orchestrator.inboxRetention == .seconds(3600))
        #expect(try await load(#"{"skald": {"inbox": {"retentionSeconds": 0}}}"#).orchestrator.inboxRetention == nil)
        await #expect {
            _ = try await load(#"{"skald": {"inbox": {"retentionSeconds": -1}}}"#)
        } throws: { error in
            "\(error)".contains("skald.inbox.retentionSeconds")
        }
    }

    @Test("an empty Kafka property item (SKALD_KAFKA_PROPERTIES=\"\") is no property, not an error")
    func blankKafkaProperties() async throws {
        let settings = try await load(#"{"skald": {"kafka": {"properties": ["", " ", "acks=all"]}}}"#)
        #expect(settings.orchestrator.kafka["acks"] == "all")
    }

    @Test("serve refuses a store that lacks a migration it ships, naming it, and serves a complete one")
    func olderStore() async throws {
        let url = try await TestPostgres.freshStore("serve_older")
        let migrations = TestPostgres.repositoryRoot.appendingPathComponent("schemas/postgres").path
        let settings = try await ServeSettings.load(configFile: nil, postgres: url, kafka: "127.0.0.1:1")
        var complete = settings
        complete.migrations = migrations
        try await ServeCommand.refuseOlderStore(complete, logger: Logger(label: "test"))
        let connection = try await PostgresConnection.connect(to: url)
        _ = try await connection.execute("DELETE FROM skald_schema_migrations WHERE name = 'dead_letters'")
        await connection.close()
        await #expect {
            try await ServeCommand.refuseOlderStore(complete, logger: Logger(label: "test"))
        } throws: { error in
            "\(error)".contains("0005_dead_letters.sql") && "\(error)".contains("skald migrate")
        }
    }

    @Test("saga events are mirrored when projections run unless set; projections can be left to other processes")
    func projections() async throws {
        let defaults = try await load("{}")
        #expect(defaults.orchestrator.publishSagaEvents == nil)
        #expect(defaults.orchestrator.sagaEventsTopic == "skald.saga-events")
        #expect(defaults.runsProjections)
        let set = try await load(
            #"{"skald": {"sagaEvents": {"publish": true, "topic": "audit.saga-events"}, "projections": {"enabled": false}}}"#)
        #expect(set.orchestrator.publishSagaEvents == true)
        #expect(set.orchestrator.sagaEventsTopic == "audit.saga-events")
        #expect(!set.runsProjections)
    }

    @Test("the admin server listens on 127.0.0.1:8080 unless set, can be turned off, and a bad port is refused with the key's name")
    func adminServer() async throws {
        let defaults = try #require(try await load("{}").admin)
        #expect(defaults.host == "127.0.0.1" && defaults.port == 8080)
        let set = try #require(try await load(#"{"skald": {"admin": {"host": "0.0.0.0", "port": 9100}}}"#).admin)
        #expect(set.host == "0.0.0.0" && set.port == 9100)
        #expect(try await load(#"{"skald": {"admin": {"enabled": false}}}"#).admin == nil)
        await #expect {
            _ = try await load(#"{"skald": {"admin": {"port": 70000}}}"#)
        } throws: { error in
            "\(error)".contains("skald.admin.port")
        }
    }

    @Test("the relay's polling interval is read, and a non-positive one is refused with the key's name")
    func relayPollInterval() async throws {
        #expect(try await load("{}").orchestrator.relayPollInterval == .milliseconds(250))
        #expect(try await load(#"{"skald": {"relay": {"pollIntervalMs": 50}}}"#).orchestrator.relayPollInterval == .milliseconds(50))
        await #expect {
            _ = try await load(#"{"skald": {"relay": {"pollIntervalMs": 0}}}"#)
        } throws: { error in
            "\(error)".contains("skald.relay.pollIntervalMs")
        }
    }

    @Test("the relay's forget delay is read, zero is allowed, and a negative one is refused with the key's name")
    func relayForgetDelay() async throws {
        #expect(try await load("{}").orchestrator.relayForgetDelay == .milliseconds(100))
        #expect(try await load(#"{"skald": {"relay": {"forgetDelayMs": 0}}}"#).orchestrator.relayForgetDelay == .zero)
        #expect(try await load(#"{"skald": {"relay": {"forgetDelayMs": 20}}}"#).orchestrator.relayForgetDelay == .milliseconds(20))
        await #expect {
            _ = try await load(#"{"skald": {"relay": {"forgetDelayMs": -1}}}"#)
        } throws: { error in
            "\(error)".contains("skald.relay.forgetDelayMs")
        }
    }

    @Test("the relay's stop grace is read, and a non-positive one is refused with the key's name")
    func stopGrace() async throws {
        #expect(try await load("{}").orchestrator.stopGrace == .seconds(5))
        #expect(try await load(#"{"skald": {"stopGraceMs": 1500}}"#).orchestrator.stopGrace == .milliseconds(1500))
        await #expect {
            _ = try await load(#"{"skald": {"stopGraceMs": -1}}"#)
        } throws: { error in
            "\(error)".contains("skald.stopGraceMs")
        }
    }

    @Test("the saga API is open unless tokens are set; a malformed token list is refused without echoing the token")
    func adminTokens() async throws {
        let open = try await load("{}")
        #expect(open.access.isOpen)
        #expect(open.stuckAfter == .seconds(300))
        let set = try await load(
            #"{"skald": {"admin": {"viewerTokens": "grafana:v1ewer-secret", "operatorTokens": "alice:0perator-secret", "stuckAfterSeconds": 60}}}"#)
        #expect(set.access.tokens["v1ewer-secret"]?.role == .viewer)
        #expect(set.access.tokens["0perator-secret"]?.name == "alice")
        #expect(set.stuckAfter == .seconds(60))
        await #expect {
            _ = try await load(#"{"skald": {"admin": {"operatorTokens": "alice:tiny"}}}"#)
        } throws: { error in
            "\(error)".contains("alice") && !"\(error)".contains("tiny")
        }
    }
}
