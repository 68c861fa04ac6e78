import Foundation
import SkaldExamples
import SkaldTestSupport
import Testing

/// A `skald examples serve` process of the built executable, started and killed by a test.
final class ExampleServicesProcess: @unchecked Sendable {
    private let arguments: [String]
    private let environment: [String: String]
    private var process: Process?
    private let logFile: URL

    init(services: String, postgresURL: String, bootstrap: String, schemaPrefix: String) {
        arguments = [
            "examples", "serve", "--service", services, "--postgres", postgresURL, "--kafka", bootstrap,
            "--schema-prefix", schemaPrefix, "--log-level", "warning",
        ]
        environment = ProcessInfo.processInfo.environment.merging([
            "SKALD_KAFKA_PROPERTIES": "session.timeout.ms=6000,heartbeat.interval.ms=500,fetch.wait.max.ms=5,linger.ms=2"
        ]) { $1 }
        logFile = FileManager.default.temporaryDirectory.appendingPathComponent("skald-examples-\(UUID().uuidString).log")
    }

    func start() throws {
        let process = Process()
        process.executableURL = try OrchestratorProcess.executable()
        process.arguments = arguments
        process.environment = environment
        if !FileManager.default.fileExists(atPath: logFile.path) {
            FileManager.default.createFile(atPath: logFile.path, contents: nil)
        }
        let handle = try FileHandle(forWritingTo: logFile)
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        self.process = process
    }

    /// SIGKILL, as a crash would.
    func kill() {
        guard let process, process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// SIGTERM, and waits for the exit status.
    func terminate() -> Int32? {
        guard let process, process.isRunning else { return nil }
        process.terminate()
        process.waitUntilExit()
        return process.terminationStatus
    }

    var log: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }
}

/// A run of the whole example system through real processes: the Kafka mock in the test,
/// `skald serve`, and the services in `skald examples serve` processes.
struct ExampleSystemRun {
    let storeURL: String
    let servicesURL: String
    let schemaPrefix: String
    let workload: ExampleWorkload

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

    func services(_ names: String, bootstrap: String) -> ExampleServicesProcess {
        ExampleServicesProcess(services: names, postgresURL: servicesURL, bootstrap: bootstrap, schemaPrefix: schemaPrefix)
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
