import Foundation
import Logging
import SkaldExamples
import Testing

/// The parts of the example services that need no Kafka or Postgres.
@Suite("Example services: configuration and rules")
struct ExampleServiceUnitTests {
    @Test("failure choices are deterministic and follow the rate")
    func deterministicFailures() {
        let behaviour = ServiceBehaviour(failureRate: 0.1)
        let keys = (0..<10_000).map { "order-\($0)" }
        let failing = keys.filter(behaviour.fails)
        #expect(failing == keys.filter(behaviour.fails))
        #expect((800...1_200).contains(failing.count))
        #expect(!keys.contains(where: ServiceBehaviour().fails))
        #expect(keys.allSatisfy(ServiceBehaviour(failureRate: 1).fails))
        #expect(ServiceBehaviour(failureRate: 7).failureRate == 1)
        #expect(ServiceBehaviour(failureRate: -1).failureRate == 0)
    }

    @Test("the instant participants read an order's number from its last part between dashes, and -1 when there is none")
    func orderNumbers() {
        #expect(InstantParticipants.number("order-12") == 12)
        #expect(InstantParticipants.number("run-7-order-30001") == 30001)
        #expect(InstantParticipants.number("42") == 42)
        #expect(InstantParticipants.number("order--3") == 3)
        #expect(InstantParticipants.number("order-") == -1)  // "order" is not a number
        #expect(InstantParticipants.number("order-x") == -1)
        #expect(InstantParticipants.number("") == -1)
        #expect(InstantParticipants.number("-") == -1)
        #expect(InstantParticipants.number("12-") == 12)
        #expect(InstantParticipants.number("order-7--") == 7)
        #expect(InstantParticipants.number("-5") == 5)
        #expect(InstantParticipants.Fate(order: InstantParticipants.number("order-27")) == .outOfStock)
    }

    @Test("search paths are added to URLs and conninfo strings; a schema that is not a plain identifier is refused")
    func searchPaths() async throws {
        #expect(try PostgresSearchPath.url("postgres://u@h:1/db", schema: "orders") == "postgres://u@h:1/db?options=-c%20search_path%3Dorders")
        #expect(try PostgresSearchPath.url("postgres://u@h:1/db?sslmode=disable", schema: "x").hasSuffix("&options=-c%20search_path%3Dx"))
        #expect(try PostgresSearchPath.url("host=h dbname=db", schema: "p") == "host=h dbname=db options='-c search_path=p'")
        #expect(PostgresSearchPath.isPlainIdentifier("t1_orders"))
        #expect(!PostgresSearchPath.isPlainIdentifier("Orders"))
        #expect(!PostgresSearchPath.isPlainIdentifier("1x"))
        #expect(!PostgresSearchPath.isPlainIdentifier("a;drop"))
        // Spliced into the address, such a name could add session options of its own.
        #expect(throws: ExampleServiceError.self) { try PostgresSearchPath.url("postgres://h/db", schema: "x%20-c%20role%3Dadmin") }
        #expect(throws: ExampleServiceError.self) { try PostgresSearchPath.url("host=h", schema: "x' options='-c role=admin") }
        await #expect(throws: ExampleServiceError.self) { try await ExampleWorkload(runID: "r", orders: 1).seed(servicesURL: "postgres://h/db", schemaPrefix: "Bad-") }
    }

    @Test("bad service names and schemas are clear errors")
    func badConfiguration() throws {
        let configuration = ServiceConfiguration(kafka: .init(bootstrapServers: "127.0.0.1:1"), postgresURL: "postgres://x/y")
        var quiet = Logger(label: "test")
        quiet.logLevel = .critical
        #expect(throws: ExampleServiceError.self) {
            try ExampleServices.make("shipping", configuration: configuration, logger: quiet)
        }
        var bad = configuration
        bad.schemaPrefix = "Bad-"
        #expect(throws: ExampleServiceError.self) { try ExampleServices.make("order", configuration: bad, logger: quiet) }
        _ = try ExampleServices.make("payment", configuration: configuration, logger: quiet)
    }

    @Test("the workload has 5% out of stock and 10% declined orders")
    func workloadFates() {
        let workload = ExampleWorkload(runID: "abc", orders: 1_000)
        #expect(workload.expected == (850, 150))
        #expect(workload.order(7).lines.first?.sku == "sold-out-abc")
        #expect(workload.order(3).customerId.hasPrefix("broke-"))
        #expect(workload.stock["sold-out-abc"] == 0)
        #expect(workload.accounts.filter { $0.key.hasPrefix("broke-") }.allSatisfy { $0.value < 500 })
    }
}
