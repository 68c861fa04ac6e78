public import Logging
public import ServiceLifecycle

/// The four example services by name: what `skald examples serve` and `skald demo` run.
public enum ExampleServices {
    /// The service names, in the order they are started.
    public static let names = ["order", "inventory", "payment", "notification"]

    /// Creates the service called `name` (`order`, `inventory`, `payment` or `notification`).
    ///
    /// - Throws: ``ExampleServiceError`` for an unknown name or a bad configuration.
    public static func make(
        _ name: String, configuration: ServiceConfiguration, logger: Logger? = nil
    ) throws -> any Service {
        switch name {
        case "order": return try ParticipantService(handler: OrderService(), configuration: configuration, logger: logger)
        case "inventory":
            return try ParticipantService(handler: InventoryService(), configuration: configuration, logger: logger)
        case "payment": return try ParticipantService(handler: PaymentService(), configuration: configuration, logger: logger)
        case "notification":
            return try ParticipantService(handler: NotificationService(), configuration: configuration, logger: logger)
        default:
            throw ExampleServiceError(
                "unknown service '\(name)': expected one of \(names.joined(separator: ", ")) or all")
        }
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
