import ArgumentParser
import Foundation
import SkaldKafka

/// Kafka settings of the commands that are not `serve`: a flag, or the environment `serve` reads.
enum KafkaSettings {
    /// The configuration from `bootstrap` (or `SKALD_KAFKA_BOOTSTRAP_SERVERS`, or the file named by
    /// `SKALD_KAFKA_BOOTSTRAP_FILE`) and `name=value` properties (plus `SKALD_KAFKA_PROPERTIES`).
    static func resolve(bootstrap: String?, properties: [String]) throws -> KafkaConfiguration {
        let environment = ProcessInfo.processInfo.environment
        var servers = bootstrap ?? environment["SKALD_KAFKA_BOOTSTRAP_SERVERS"]
        if servers == nil, let file = environment["SKALD_KAFKA_BOOTSTRAP_FILE"] {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw ValidationError("cannot read the Kafka bootstrap file \(file) (is `skald kafka mock` running?)")
            }
            servers = text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard let servers, !servers.isEmpty else {
            throw ValidationError("no Kafka to talk to: pass --kafka BOOTSTRAP or set SKALD_KAFKA_BOOTSTRAP_SERVERS")
        }
        var configuration = KafkaConfiguration(bootstrapServers: servers)
        try apply(properties, to: &configuration)
        return configuration
    }

    /// The settings `skald demo` and `skald bench e2e` run their clients with (the mock's
    /// measured-good values: a short fetch wait, quick group changes), then `properties` and
    /// `SKALD_KAFKA_PROPERTIES` over them as ``apply(_:to:)`` sets them.
    static func demo(bootstrapServers: String, properties: [String] = []) throws -> KafkaConfiguration {
        var configuration = KafkaConfiguration(bootstrapServers: bootstrapServers)
        configuration.sessionTimeout = .seconds(6)
        configuration.fetchWaitMax = .milliseconds(5)
        configuration["heartbeat.interval.ms"] = "500"
        try apply(properties, to: &configuration)
        return configuration
    }

    /// Sets `SKALD_KAFKA_PROPERTIES`, then `properties` (`name=value` each), over `configuration`.
    static func apply(_ properties: [String] = [], to configuration: inout KafkaConfiguration) throws {
        let environment = ProcessInfo.processInfo.environment
        let fromEnvironment = (environment["SKALD_KAFKA_PROPERTIES"] ?? "").split(separator: ",").map(String.init)
        for item in fromEnvironment + properties where !item.trimmingCharacters(in: .whitespaces).isEmpty {
            guard let equals = item.firstIndex(of: "="), equals != item.startIndex else {
                throw ValidationError("bad Kafka property '\(item)': expected name=value")
            }
            configuration[item[..<equals].trimmingCharacters(in: .whitespaces)] = String(item[item.index(after: equals)...])
        }
    }
}
