import Foundation
import Skald
import SkaldExamples
import SkaldPostgres
import SkaldTestSupport
import Testing

/// order-service's handler against a real Postgres schema, without Kafka.
@Suite("Example services: order-service rules")
struct OrderServiceTests {
    /// A fresh `orders` schema and a session in it.
    private static func ordersSession() async throws -> PostgresConnection {
        let baseURL = try TestPostgres.url()
        let prefix = "os" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(8).lowercased() + "_"
        try await ExampleServices.migrateAll(postgresURL: baseURL, schemaPrefix: prefix)
        return try await PostgresConnection.connect(to: try PostgresSearchPath.url(baseURL, schema: prefix + "orders"))
    }

    private static func run(_ message: some SagaMessage, on connection: PostgresConnection) async throws -> (any SagaMessage)? {
        let envelope = MessageEnvelope(id: UUID().uuidString, source: "test", type: type(of: message).messageType)
        let command = ServiceCommand(envelope: envelope, payload: try SkaldJSON.encode(message))
        return try await OrderService().handle(command, on: connection, behaviour: ServiceBehaviour())
    }

    private static func status(_ orderId: String, on connection: PostgresConnection) async throws -> String? {
        try await connection.query("SELECT status FROM orders WHERE order_id = \(orderId)").first?.decode(String.self, at: 0)
    }

    @Test("a confirmed order refuses to be cancelled and stays confirmed; an accepted one is cancelled")
    func cancellingAConfirmedOrderIsRefused() async throws {
        let connection = try await Self.ordersSession()
        let lines = [OrderLine(sku: "sku-1", quantity: 1)]
        for orderId in ["kept", "dropped"] {
            #expect(try await Self.run(CreateOrder(orderId: orderId, customerId: "c", lines: lines), on: connection) is OrderCreated)
        }
        #expect(try await Self.run(ConfirmOrder(orderId: "kept"), on: connection) is OrderConfirmed)

        let refused = try await Self.run(CancelOrder(orderId: "kept"), on: connection)
        #expect((refused as? OrderCancellationRefused)?.reason.contains("confirmed") == true)
        #expect(try await Self.status("kept", on: connection) == "confirmed")

        #expect(try await Self.run(CancelOrder(orderId: "dropped"), on: connection) is OrderCancelled)
        #expect(try await Self.status("dropped", on: connection) == "cancelled")
        // A cancel before the order exists leaves a tombstone, and a late create is rejected.
        #expect(try await Self.run(CancelOrder(orderId: "late"), on: connection) is OrderCancelled)
        #expect(try await Self.run(CreateOrder(orderId: "late", customerId: "c", lines: lines), on: connection) is OrderRejected)
        await connection.close()
    }
}
