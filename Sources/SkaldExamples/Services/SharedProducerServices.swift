public import ServiceLifecycle
public import SkaldKafka

/// Services in one process that publish through one Kafka producer: run and stopped
/// together (``ConcurrentServices``), the producer shut down once the last has returned.
///
/// One producer per process is how Kafka's clients are meant to be used: a producer is
/// thread-safe, and every producer is a client with its own threads, its own connections to
/// each broker and its own produce requests. The four example services each had one, so four
/// clients sent four requests where one carries the replies of all (they share the replies
/// topic), and woke four sets of threads to do it.
///
/// A graceful stop reaches all of them at once. Should Kafka not take a relay's last round
/// within its stop grace, that relay gives up on what the producer holds
/// (``KafkaProducer/abandonUndelivered()``), the other services' messages included; their
/// rows stay in the outboxes for the next process, as the giving-up relay's own do.
public struct SharedProducerServices: Service {
    /// The services, run as one.
    public let services: ConcurrentServices
    /// The producer they publish through, lent to each.
    public let producer: KafkaProducer

    /// Runs `services`, which publish through `producer`, and shuts the producer down after them.
    public init(_ services: [any Service], producer: KafkaProducer) {
        self.services = ConcurrentServices(services)
        self.producer = producer
    }

    /// Runs every service until all have returned, then flushes and closes the producer.
    public func run() async throws {
        do {
            try await services.run()
        } catch {
            await producer.shutdown()
            throw error
        }
        await producer.shutdown()
    }
}

extension SharedProducerServices: CustomStringConvertible {
    /// The services' descriptions, for the service group's logs.
    public var description: String { services.description }
}
