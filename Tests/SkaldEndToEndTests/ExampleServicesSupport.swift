import Foundation
import SkaldExamples
import SkaldKafka
import SkaldPostgres
import SkaldTestSupport
import Testing

extension SkaldProcess {
    /// `skald examples serve` for `services` (e.g. `payment` or `order,inventory`).
    static func exampleServices(
        services: String, postgresURL: String, bootstrap: String, schemaPrefix: String, metricsPort: Int? = nil
    ) -> SkaldProcess {
        SkaldProcess(
            arguments: [
                "examples", "serve", "--service", services, "--postgres", postgresURL, "--kafka", bootstrap,
                "--schema-prefix", schemaPrefix, "--log-level", "warning",
            ] + (metricsPort.map { ["--metrics-port", String($0)] } ?? []),
            label: "examples")
    }
}

/// A run of the whole example system through real processes: the Kafka mock in the test,
/// `skald serve`, and the services in `skald examples serve` processes.
struct ExampleSystemRun {
    let storeURL: String
    let servicesURL: String
    let schemaPrefix: String
    let workload: ExampleWorkload

    /// The order-board read model against the store, once it has caught up with this run.
    func orderBoard() async throws -> OrderBoardCheck {
        let connection = try await PostgresConnection.connect(to: storeURL)
        defer { Task { await connection.close() } }
        return try await OrderBoardCheck.awaitCaughtUp(on: connection, orderIdPrefix: workload.orderIdPrefix, timeout: .seconds(60))
    }

    static func prepare(orders: Int) async throws -> ExampleSystemRun {
        let servicesURL = try TestPostgres.url()
        let storeURL = try await TestPostgres.freshStore("ex")
        let id = UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(8).lowercased()
        let run = ExampleSystemRun(
            storeURL: storeURL, servicesURL: servicesURL, schemaPrefix: "ex\(id)_",
            workload: ExampleWorkload(runID: String(id), orders: orders)
        )
        try await ExampleServices.migrateAll(postgresURL: servicesURL, schemaPrefix: run.schemaPrefix)
        try await run.workload.seed(servicesURL: servicesURL, schemaPrefix: run.schemaPrefix)
        return run
    }

    func services(_ names: String, bootstrap: String, metricsPort: Int? = nil) -> SkaldProcess {
        SkaldProcess.exampleServices(
            services: names, postgresURL: servicesURL, bootstrap: bootstrap, schemaPrefix: schemaPrefix, metricsPort: metricsPort)
    }

    /// Runs `body` with `skald serve` and `skald examples serve --service all` started against
    /// a fresh Kafka mock, in a process of its own (`body` may take its brokers down); whatever
    /// `body` leaves running is killed at the end.
    func withRunningSystem(
        _ body: (_ orchestrator: SkaldProcess, _ services: SkaldProcess, MockKafkaProcess) async throws -> Void
    ) async throws {
        let cluster = try await MockKafkaProcess.start()
        defer { cluster.stopNow() }
        let orchestrator = SkaldProcess.orchestrator(postgresURL: storeURL, bootstrap: cluster.bootstrapServers)
        let services = self.services("all", bootstrap: cluster.bootstrapServers)
        try orchestrator.start()
        defer { orchestrator.killNow() }
        try services.start()
        defer { services.killNow() }
        try await body(orchestrator, services, cluster)
    }

    func place(_ numbers: Range<Int>) async throws {
        try await workload.place(numbers, servicesURL: servicesURL, schemaPrefix: schemaPrefix)
    }

    var check: ConsistencyCheck {
        ConsistencyCheck(storeURL: storeURL, servicesURL: servicesURL, schemaPrefix: schemaPrefix)
    }

    func waitUntilAllTerminal() async throws {
        try await eventually("every order's saga terminal", timeout: .seconds(300), poll: .milliseconds(250)) {
            try await check.progress(of: workload).terminal == workload.orders
        }
    }
}
