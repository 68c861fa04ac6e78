public import SkaldPostgres

extension ExampleWorkload {
    /// Gives inventory-service its stock and payment-service its accounts (already migrated schemas).
    public func seed(servicesURL: String, schemaPrefix: String = "") async throws {
        let inventory = try await PostgresConnection.connect(
            to: try PostgresSearchPath.url(servicesURL, schema: schemaPrefix + InventoryService().defaultSchema))
        try await InventoryService.seed(stock: stock, on: inventory)
        await inventory.close()
        let payments = try await PostgresConnection.connect(
            to: try PostgresSearchPath.url(servicesURL, schema: schemaPrefix + PaymentService().defaultSchema))
        try await PaymentService.seed(accounts: accounts, on: payments)
        await payments.close()
    }

    /// Places orders `numbers` through order-service, `batch` per transaction.
    public func place(
        _ numbers: Range<Int>, servicesURL: String, schemaPrefix: String = "", batch: Int = 100
    ) async throws {
        let connection = try await orderServiceConnection(servicesURL: servicesURL, schemaPrefix: schemaPrefix)
        try await place(numbers, on: connection, batch: batch)
        await connection.close()
    }

    /// Places orders `numbers` on `connection`, a session in order-service's schema (see
    /// ``orderServiceConnection(servicesURL:schemaPrefix:)``), `batch` per transaction: a
    /// placer that places orders as they fall due keeps one connection.
    public func place(_ numbers: Range<Int>, on connection: PostgresConnection, batch: Int = 100) async throws {
        var start = numbers.lowerBound
        while start < numbers.upperBound {
            let end = min(numbers.upperBound, start + max(1, batch))
            try await OrderService.place((start..<end).map(order), on: connection)
            start = end
        }
    }

    /// A connection whose session works in order-service's schema.
    public func orderServiceConnection(servicesURL: String, schemaPrefix: String = "") async throws -> PostgresConnection {
        try await PostgresConnection.connect(
            to: try PostgresSearchPath.url(servicesURL, schema: schemaPrefix + OrderService().defaultSchema))
    }
}
