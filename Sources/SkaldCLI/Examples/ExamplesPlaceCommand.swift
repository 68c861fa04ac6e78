import ArgumentParser
import Foundation
import SkaldExamples

/// `skald examples place`: places orders through order-service's tables, for a system whose
/// parts run as separate processes (`skald serve`, `skald examples serve`).
///
/// Each call is a run of its own (a fresh run id, its own SKUs and accounts), so runs can be
/// repeated against the same database. With `--wait` it waits for every saga and checks the
/// run like `skald demo`, exiting non-zero when the check fails.
struct ExamplesPlaceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "place",
        abstract: "Place example orders (5% sold out, 10% unpaid) and optionally wait and check the outcome."
    )

    @OptionGroup var postgres: PostgresOptions

    @Option(help: "The orchestrator's store, when it is not the services' database (default: --postgres).")
    var store: String?

    @Option(help: "How many orders.")
    var orders: Int = 100

    @Option(help: "The services' schema prefix (as given to `skald examples serve`).")
    var schemaPrefix: String = ""

    @Flag(help: "Wait until every saga of the run has ended, then check the run.")
    var wait = false

    @Option(help: "Seconds to wait with --wait.")
    var timeout: Int = 300

    func validate() throws {
        guard orders > 0 else { throw ValidationError("--orders must be positive") }
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
    }

    func run() async throws {
        let url = try postgres.requiredURL()
        let runID = String(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(6).lowercased())
        let workload = ExampleWorkload(runID: runID, orders: orders)
        try await ExampleServices.migrateAll(postgresURL: url, schemaPrefix: schemaPrefix)
        try await workload.seed(servicesURL: url, schemaPrefix: schemaPrefix)
        try await workload.place(0..<orders, servicesURL: url, schemaPrefix: schemaPrefix)
        print("skald: placed \(orders) orders of run \(runID) (ids \(workload.orderIdPrefix)0 …)")
        guard wait else { return }

        let check = ConsistencyCheck(storeURL: store ?? url, servicesURL: url, schemaPrefix: schemaPrefix)
        let deadline = ContinuousClock.now.advanced(by: .seconds(timeout))
        var terminal = 0
        while ContinuousClock.now < deadline {
            terminal = try await check.progress(of: workload).terminal
            if terminal >= orders { break }
            try await Task.sleep(for: .milliseconds(250))
        }
        let report = try await check.run(workload)
        print(
            """
            skald: run \(runID): \(report.completed) completed (expected \(report.expected.completed)), \
            \(report.compensated) compensated (expected \(report.expected.compensated)), \(report.failed) failed, \
            \(report.running) running, \(report.timedOut) with a timeout
            """)
        for problem in report.problems.prefix(10) { print("  ! \(problem)") }
        guard terminal >= orders else {
            throw DemoFailure(message: "only \(terminal) of \(orders) sagas ended within \(timeout) s")
        }
        guard report.isConsistent else { throw DemoFailure(message: "the run is not consistent") }
        print("skald: consistent")
    }
}
