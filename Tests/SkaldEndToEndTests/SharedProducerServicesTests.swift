import Logging
import ServiceLifecycle
import SkaldExamples
import SkaldKafka
import SkaldTestSupport
import Synchronization
import Testing

/// Services that share one producer: it stays open until the last of them has returned.
@Suite("SharedProducerServices: one producer for the services of a process")
struct SharedProducerServicesTests {
    /// Delivered and failed sends, across services.
    final class Sends: Sendable {
        let started = Atomic<Int>(0)
        let delivered = Atomic<Int>(0)
        let failed = Atomic<Int>(0)
    }

    /// Sends one message through the shared producer after it has heard the stop, as a relay
    /// publishes its last round: the producer must still be open then.
    struct LateSender: Service, CustomStringConvertible {
        let producer: KafkaProducer
        let topic: String
        let delay: Duration
        let sends: Sends
        var description: String { "LateSender" }

        func run() async throws {
            sends.started.add(1, ordering: .relaxed)
            try? await gracefulShutdown()
            try? await Task.sleep(for: delay)
            do {
                _ = try await producer.send(KafkaOutgoingMessage(topic: topic, key: "k", value: "late"))
                sends.delivered.add(1, ordering: .relaxed)
            } catch {
                sends.failed.add(1, ordering: .relaxed)
            }
        }
    }

    struct Broken: Error {}

    /// Fails once the others are running.
    struct Failing: Service, CustomStringConvertible {
        let sends: Sends
        let others: Int
        var description: String { "Failing" }

        func run() async throws {
            while sends.started.load(ordering: .relaxed) < others { try await Task.sleep(for: .milliseconds(10)) }
            throw Broken()
        }
    }

    static func producer(on cluster: MockCluster) throws -> KafkaProducer {
        try KafkaProducer(configuration: KafkaConfiguration(bootstrapServers: cluster.bootstrapServers), logger: e2eLogger)
    }

    @Test("the producer outlives every service's last send, and is shut down after them", .timeLimit(.minutes(1)))
    func producerOutlivesServices() async throws {
        let cluster = try MockCluster(brokers: 1)
        defer { cluster.shutdown() }
        try cluster.createTopic("shared", partitions: 2)
        let producer = try Self.producer(on: cluster)
        let sends = Sends()
        let services = [50, 300, 600].map { milliseconds in
            LateSender(producer: producer, topic: "shared", delay: .milliseconds(milliseconds), sends: sends)
        }
        let group = ServiceGroup(services: [SharedProducerServices(services, producer: producer)], logger: e2eLogger)
        let running = Task { try await group.run() }
        try await eventually("every service started") { sends.started.load(ordering: .relaxed) == 3 }
        await group.triggerGracefulShutdown()
        try await running.value

        #expect(sends.delivered.load(ordering: .relaxed) == 3)
        #expect(sends.failed.load(ordering: .relaxed) == 0)
        await #expect(throws: KafkaError.self) {
            _ = try await producer.send(KafkaOutgoingMessage(topic: "shared", key: "k", value: "after"))
        }
    }

    @Test("a service's error ends the run and still shuts the producer down", .timeLimit(.minutes(1)))
    func errorShutsProducerDown() async throws {
        let cluster = try MockCluster(brokers: 1)
        defer { cluster.shutdown() }
        try cluster.createTopic("shared", partitions: 1)
        let producer = try Self.producer(on: cluster)
        let sends = Sends()
        let sender = LateSender(producer: producer, topic: "shared", delay: .zero, sends: sends)
        let shared = SharedProducerServices([sender, Failing(sends: sends, others: 1)], producer: producer)
        await #expect(throws: Broken.self) { try await shared.run() }
        await #expect(throws: KafkaError.self) {
            _ = try await producer.send(KafkaOutgoingMessage(topic: "shared", key: "k", value: "after"))
        }
    }

    @Test("unknown service names and bad Kafka properties are refused before anything runs")
    func badInput() throws {
        let kafka = KafkaConfiguration(bootstrapServers: "127.0.0.1:1")
        let configuration = ServiceConfiguration(kafka: kafka, postgresURL: "postgres://127.0.0.1:1/none")
        #expect(throws: ExampleServiceError.self) {
            _ = try ExampleServices.makeSharingProducer(["order", "shipping"], kafka: kafka, logger: e2eLogger) { _ in configuration }
        }
        var badKafka = kafka
        badKafka["no.such.property"] = "1"
        #expect(throws: KafkaError.self) {
            _ = try ExampleServices.makeSharingProducer(["order"], kafka: badKafka, logger: e2eLogger) { _ in configuration }
        }
        let services = try ExampleServices.makeSharingProducer(ExampleServices.names, kafka: kafka, logger: e2eLogger) { _ in configuration }
        #expect(services.services.services.count == 4)
    }
}
