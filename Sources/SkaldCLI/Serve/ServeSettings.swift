import Configuration
import Foundation
import SkaldAdmin
import SkaldKafka
import SkaldRuntime
import SystemPackage

/// How `skald serve` is configured: a JSON file, then environment variables, then flags.
///
/// Keys (environment variable in brackets):
/// - `skald.postgres.url` (`SKALD_POSTGRES_URL`)
/// - `skald.kafka.bootstrapServers` (`SKALD_KAFKA_BOOTSTRAP_SERVERS`), or
///   `skald.kafka.bootstrapFile` (`SKALD_KAFKA_BOOTSTRAP_FILE`), the file `skald kafka mock` writes
/// - `skald.kafka.properties` (`SKALD_KAFKA_PROPERTIES`): librdkafka properties as `name=value`
///   items (a JSON array, or comma-separated in the environment), e.g. `security.protocol=SASL_SSL`
/// - `skald.groupId`, `skald.deadLetterTopic`, `skald.pump.batchSize`, `skald.pump.workers`,
///   `skald.relay.batchSize`, `skald.relay.pollIntervalMs` (how often the relay looks without a
///   notification), `skald.relay.forgetDelayMs` (how long published rows may wait to be deleted
///   together; 100, 0 deletes each round's at once), `skald.pool.size`, `skald.timers.pollIntervalMs`, `skald.instanceCache.capacity`
/// - `skald.circuitBreaker.failureThreshold`, `.windowSeconds`, `.cooldownSeconds`, `.probes`: when a
///   participant that keeps timing out has its commands held back in the outbox
/// - `skald.inbox.retentionSeconds` (`SKALD_INBOX_RETENTION_SECONDS`): how long consumed message ids
///   are kept to recognise redeliveries, at least the consumed topics' `retention.ms + segment.ms`;
///   1209600 (14 days) by default, 0 keeps them forever (do so when a consumed topic is compacted)
/// - `skald.migrations` (a folder) and `skald.migrateOnStart` (`true` applies them before serving)
/// - `skald.admin.host` (`SKALD_ADMIN_HOST`, `127.0.0.1` by default), `skald.admin.port`
///   (`SKALD_ADMIN_PORT`, 8080; 0 picks a free one), `skald.admin.enabled` (`false` serves no HTTP):
///   the admin HTTP server's `/health`, `/ready`, `/metrics`, saga API and dashboard
/// - `skald.admin.viewerTokens` and `skald.admin.operatorTokens` (`SKALD_ADMIN_VIEWER_TOKENS`,
///   `SKALD_ADMIN_OPERATOR_TOKENS`): `name:token` pairs, comma-separated; with none the saga API
///   is open to anyone who can reach it. `skald.admin.stuckAfterSeconds` (300): how long a running
///   saga must be quiet for `stuck=true` and the `skald_sagas_stuck` gauge; `skald.admin.allowedHosts` (`SKALD_ADMIN_ALLOWED_HOSTS`): host
///   names the API answers to besides loopback ones (a reverse proxy's public name)
/// - `skald.sagaEvents.topic` (`skald.saga-events`) and `skald.sagaEvents.publish`
///   (`SKALD_SAGA_EVENTS_PUBLISH`): whether every saga event is mirrored to that topic; by default
///   when the process runs projections. `skald.projections.enabled` (`SKALD_PROJECTIONS_ENABLED`,
///   `true`): `false` runs none here (another process runs them; mirror the events then)
struct ServeSettings {
    var orchestrator: OrchestratorConfiguration
    /// The admin HTTP server, or nil when it is turned off.
    var admin: AdminConfiguration?
    /// Who may use the saga API.
    var access: AdminAccess = .open
    /// How long a running saga must be quiet to be listed as stuck.
    var stuckAfter: Duration = .seconds(300)
    var migrations: String
    var migrateOnStart: Bool
    /// Whether this process runs the registered projections.
    var runsProjections = true

    /// Reads the settings; `postgres` and `kafka` (flags) win over everything else.
    static func load(configFile: String?, postgres: String?, kafka: String?) async throws -> ServeSettings {
        var providers: [any ConfigProvider] = [EnvironmentVariablesProvider()]
        if let configFile {
            guard FileManager.default.fileExists(atPath: configFile) else {
                throw SettingsError("the configuration file \(configFile) does not exist")
            }
            providers.append(try await FileProvider<JSONSnapshot>(filePath: FilePath(configFile)))
        }
        let config = ConfigReader(providers: providers)

        guard let postgresURL = postgres ?? config.string(forKey: "skald.postgres.url") else {
            throw SettingsError("no Postgres URL: pass --postgres, set SKALD_POSTGRES_URL or skald.postgres.url")
        }
        var bootstrap = kafka ?? config.string(forKey: "skald.kafka.bootstrapServers")
        if bootstrap == nil, let file = config.string(forKey: "skald.kafka.bootstrapFile") {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw SettingsError("cannot read the Kafka bootstrap file \(file) (is `skald kafka mock` running?)")
            }
            bootstrap = text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard let bootstrap, !bootstrap.isEmpty else {
            throw SettingsError(
                "no Kafka bootstrap servers: pass --kafka, set SKALD_KAFKA_BOOTSTRAP_SERVERS or SKALD_KAFKA_BOOTSTRAP_FILE")
        }
        var kafkaConfiguration = KafkaConfiguration(bootstrapServers: bootstrap)
        // An empty variable (SKALD_KAFKA_PROPERTIES="") reads as one empty item: skip blanks.
        for item in config.stringArray(forKey: "skald.kafka.properties", default: [])
        where !item.trimmingCharacters(in: .whitespaces).isEmpty {
            guard let equals = item.firstIndex(of: "="), equals != item.startIndex else {
                throw SettingsError("bad Kafka property '\(item)': expected name=value")
            }
            let name = item[..<equals].trimmingCharacters(in: .whitespaces)
            kafkaConfiguration[name] = String(item[item.index(after: equals)...])
        }

        var orchestrator = OrchestratorConfiguration(kafka: kafkaConfiguration, postgresURL: postgresURL)
        orchestrator.groupID = config.string(forKey: "skald.groupId", default: orchestrator.groupID)
        orchestrator.deadLetterTopic = config.string(forKey: "skald.deadLetterTopic", default: orchestrator.deadLetterTopic)
        orchestrator.pumpBatchSize = try positive(config.int(forKey: "skald.pump.batchSize", default: orchestrator.pumpBatchSize), "skald.pump.batchSize")
        orchestrator.relayBatchSize = try positive(config.int(forKey: "skald.relay.batchSize", default: orchestrator.relayBatchSize), "skald.relay.batchSize")
        orchestrator.poolSize = try positive(config.int(forKey: "skald.pool.size", default: orchestrator.poolSize), "skald.pool.size")
        orchestrator.instanceCacheCapacity = config.int(
            forKey: "skald.instanceCache.capacity", default: orchestrator.instanceCacheCapacity)
        orchestrator.pumpWorkers = try positive(config.int(forKey: "skald.pump.workers", default: orchestrator.pumpWorkers), "skald.pump.workers")
        orchestrator.circuitBreaker = CircuitBreaker.Policy(
            failureThreshold: try positive(config.int(forKey: "skald.circuitBreaker.failureThreshold", default: 20), "skald.circuitBreaker.failureThreshold"),
            window: .seconds(try positive(config.int(forKey: "skald.circuitBreaker.windowSeconds", default: 30), "skald.circuitBreaker.windowSeconds")),
            cooldown: .seconds(try positive(config.int(forKey: "skald.circuitBreaker.cooldownSeconds", default: 10), "skald.circuitBreaker.cooldownSeconds")),
            probes: try positive(config.int(forKey: "skald.circuitBreaker.probes", default: 5), "skald.circuitBreaker.probes"))
        let pollMs = try positive(config.int(forKey: "skald.timers.pollIntervalMs", default: 100), "skald.timers.pollIntervalMs")
        orchestrator.timerPollInterval = .milliseconds(pollMs)
        let relayPollMs = try positive(config.int(forKey: "skald.relay.pollIntervalMs", default: 250), "skald.relay.pollIntervalMs")
        orchestrator.relayPollInterval = .milliseconds(relayPollMs)
        let forgetDelayMs = config.int(forKey: "skald.relay.forgetDelayMs", default: 100)
        guard forgetDelayMs >= 0 else {
            throw SettingsError("skald.relay.forgetDelayMs must be 0 (delete each round's rows at once) or positive, got \(forgetDelayMs)")
        }
        orchestrator.relayForgetDelay = .milliseconds(forgetDelayMs)
        let stopGraceMs = try positive(config.int(forKey: "skald.stopGraceMs", default: 5_000), "skald.stopGraceMs")
        orchestrator.stopGrace = .milliseconds(stopGraceMs)
        let retention = config.int(forKey: "skald.inbox.retentionSeconds", default: 14 * 24 * 3600)
        guard retention >= 0 else {
            throw SettingsError("skald.inbox.retentionSeconds must be 0 (keep forever) or positive, got \(retention)")
        }
        orchestrator.inboxRetention = retention == 0 ? nil : .seconds(retention)

        var admin: AdminConfiguration?
        if config.bool(forKey: "skald.admin.enabled", default: true) {
            let port = config.int(forKey: "skald.admin.port", default: 8080)
            guard (0...65_535).contains(port) else {
                throw SettingsError("skald.admin.port must be a port number (0 picks a free one), got \(port)")
            }
            admin = AdminConfiguration(host: config.string(forKey: "skald.admin.host", default: "127.0.0.1"), port: port)
            admin?.allowedHosts = config.stringArray(forKey: "skald.admin.allowedHosts", default: [])
        }
        let access: AdminAccess
        do {
            access = try AdminAccess(
                viewers: config.string(forKey: "skald.admin.viewerTokens", isSecret: true, default: ""),
                operators: config.string(forKey: "skald.admin.operatorTokens", isSecret: true, default: ""))
        } catch {
            throw SettingsError(error.description)
        }
        let stuckAfter = config.int(forKey: "skald.admin.stuckAfterSeconds", default: 300)
        guard stuckAfter >= 0 else {
            throw SettingsError("skald.admin.stuckAfterSeconds must be 0 or more, got \(stuckAfter)")
        }
        orchestrator.stuckAfter = .seconds(stuckAfter)
        orchestrator.sagaEventsTopic = config.string(forKey: "skald.sagaEvents.topic", default: orchestrator.sagaEventsTopic)
        orchestrator.publishSagaEvents = config.bool(forKey: "skald.sagaEvents.publish")
        var settings = ServeSettings(
            orchestrator: orchestrator,
            admin: admin,
            access: access,
            stuckAfter: .seconds(stuckAfter),
            migrations: config.string(forKey: "skald.migrations", default: "schemas/postgres"),
            migrateOnStart: config.bool(forKey: "skald.migrateOnStart", default: false)
        )
        settings.runsProjections = config.bool(forKey: "skald.projections.enabled", default: true)
        return settings
    }

    private static func positive(_ value: Int, _ key: String) throws -> Int {
        guard value > 0 else { throw SettingsError("\(key) must be positive, got \(value)") }
        return value
    }
}

/// A setting is missing or wrong; the message names it.
struct SettingsError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = "skald: \(description)" }
}
