public import Logging
public import ServiceLifecycle
public import SkaldKafka

/// The four example services by name: what `skald examples serve` and `skald demo` run.
public enum ExampleServices {
    /// The service names, in the order they are started.
    public static let names = ["order", "inventory", "payment", "notification"]

    /// Creates the service called `name` (`order`, `inventory`, `payment` or `notification`).
    ///
    /// - Parameter producer: publishes its replies; `nil` gives the service a producer of its own
    ///   (``ParticipantService/init(handler:configuration:producer:logger:metricsFactory:)``).
    /// - Throws: ``ExampleServiceError`` for an unknown name or a bad configuration.
    public static func make(
        _ name: String, configuration: ServiceConfiguration, producer: KafkaProducer? = nil, logger: Logger? = nil
    ) throws -> any Service {
        switch name {
        case "order":
            return try ParticipantService(handler: OrderService(), configuration: configuration, producer: producer, logger: logger)
        case "inventory":
            return try ParticipantService(
                handler: InventoryService(), configuration: configuration, producer: producer, logger: logger)
        case "payment":
            return try ParticipantService(handler: PaymentService(), configuration: configuration, producer: producer, logger: logger)
        case "notification":
            return try ParticipantService(
                handler: NotificationService(), configuration: configuration, producer: producer, logger: logger)
        default:
            throw ExampleServiceError(
                "unknown service '\(name)': expected one of \(names.joined(separator: ", ")) or all")
        }
    }

    /// Creates the services called `names` to run in one process, publishing through one
    /// producer made from `kafka` (``SharedProducerServices``); `configuration` gives each
    /// service's own settings, its consumer's Kafka properties included.
    ///
    /// - Throws: ``ExampleServiceError`` for an unknown name or a bad configuration,
    ///   ``KafkaError`` for a bad Kafka property.
    public static func makeSharingProducer(
        _ names: [String], kafka: KafkaConfiguration, logger: Logger? = nil,
        configuration: (_ name: String) -> ServiceConfiguration
    ) throws -> SharedProducerServices {
        var producerConfiguration = kafka
        if producerConfiguration.clientID == nil { producerConfiguration.clientID = "example-services" }
        let producer = try KafkaProducer(configuration: producerConfiguration, logger: logger ?? Logger(label: "skald.examples"))
        let services = try names.map { name in
            try make(name, configuration: configuration(name), producer: producer, logger: logger)
        }
        return SharedProducerServices(services, producer: producer)
    }

    /// Creates every service's schema and tables in `postgresURL`'s database (safe to repeat).
    public static func migrateAll(postgresURL: String, schemaPrefix: String = "") async throws {
        try await ParticipantService.migrate(
            handler: OrderService(), postgresURL: postgresURL, schema: schemaPrefix + OrderService().defaultSchema)
        try await ParticipantService.migrate(
            handler: InventoryService(), postgresURL: postgresURL, schema: schemaPrefix + InventoryService().defaultSchema)
        try await ParticipantService.migrate(
            handler: PaymentService(), postgresURL: postgresURL, schema: schemaPrefix + PaymentService().defaultSchema)
        try await ParticipantService.migrate(
            handler: NotificationService(), postgresURL: postgresURL,
            schema: schemaPrefix + NotificationService().defaultSchema)
    }
}
