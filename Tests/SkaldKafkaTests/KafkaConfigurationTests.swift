import Logging
import Testing

@testable import SkaldKafka

@Suite struct KafkaConfigurationTests {
    @Test func unknownPropertyIsNamedInTheError() throws {
        var configuration = KafkaConfiguration(bootstrapServers: "127.0.0.1:9092")
        configuration["no.such.property"] = "1"
        let error = try #require(throws: KafkaError.self) {
            _ = try KafkaProducer(configuration: configuration)
        }
        #expect(error.code == .unknownProperty)
        #expect(error.context.contains("no.such.property"))
        #expect(error.description.contains("no.such.property"))
    }

    @Test func invalidValueIsNamedInTheError() throws {
        var configuration = KafkaConfiguration(bootstrapServers: "127.0.0.1:9092")
        configuration.groupID = "group"
        configuration["session.timeout.ms"] = "not-a-number"
        let error = try #require(throws: KafkaError.self) {
            _ = try KafkaConsumer(configuration: configuration, topics: ["t"])
        }
        #expect(error.code == .invalidValue)
        #expect(error.description.contains("session.timeout.ms"))
    }

    @Test func automaticOffsetStoreIsRefused() throws {
        var configuration = KafkaConfiguration(bootstrapServers: "127.0.0.1:9092")
        configuration.groupID = "group"
        configuration["enable.auto.offset.store"] = "true"
        let error = try #require(throws: KafkaError.self) {
            _ = try KafkaConsumer(configuration: configuration, topics: ["t"])
        }
        #expect(error.code == .invalidValue)
        #expect(error.description.contains("enable.auto.offset.store"))
    }

    @Test func typedPropertiesWriteLibrdkafkaNames() {
        var configuration = KafkaConfiguration(bootstrapServers: "a:1,b:2")
        configuration.clientID = "skald"
        configuration.sessionTimeout = .seconds(6)
        configuration.linger = .milliseconds(5)
        #expect(configuration.properties["bootstrap.servers"] == "a:1,b:2")
        #expect(configuration.properties["client.id"] == "skald")
        #expect(configuration.properties["session.timeout.ms"] == "6000")
        #expect(configuration.properties["linger.ms"] == "5")
        #expect(configuration.sessionTimeout == .seconds(6))
    }

    /// Producers do not linger unless told to (docs/kafka.md says why); a caller's value wins.
    @Test func producersDoNotLingerByDefault() {
        var configuration = KafkaConfiguration(bootstrapServers: "a:1")
        let defaults = configuration.properties(withDefaults: KafkaConfiguration.producerDefaults, logLevel: .info)
        #expect(defaults["linger.ms"] == "0")
        #expect(defaults["enable.idempotence"] == "true")
        configuration.linger = .milliseconds(5)
        #expect(configuration.properties(withDefaults: KafkaConfiguration.producerDefaults, logLevel: .info)["linger.ms"] == "5")
    }

    /// Consumers hold little ahead of their caller (the orchestrator's memory bound depends on
    /// it, docs/benchmarks-orchestrator.md, session 11); a caller's values win.
    @Test func consumersPrefetchLittleByDefault() {
        var configuration = KafkaConfiguration(bootstrapServers: "a:1")
        #expect(configuration.consumerBufferCapacity == 5_000)
        let defaults = configuration.properties(withDefaults: KafkaConfiguration.consumerDefaults, logLevel: .info)
        #expect(defaults["queued.max.messages.kbytes"] == "4096")
        #expect(defaults["session.timeout.ms"] == "10000", "a member gone quiet is replaced in 10 s, not 45")
        #expect(defaults["heartbeat.interval.ms"] == "1000")
        #expect(KafkaConfiguration.producerDefaults["queued.max.messages.kbytes"] == nil, "a consumer property only")
        configuration["queued.max.messages.kbytes"] = "65536"
        #expect(
            configuration.properties(withDefaults: KafkaConfiguration.consumerDefaults, logLevel: .info)["queued.max.messages.kbytes"]
                == "65536")
    }
}
