import ArgumentParser
import Foundation
import Skald
import SkaldPostgres
import SkaldRuntime

/// `skald replay`: re-runs stored saga histories through the registered definitions and checks
/// each log against its snapshot; exits 1 when anything disagrees.
///
/// Run it with the binary about to be deployed, against the production store, before the
/// deploy: a saga in flight whose version the new binary no longer registers, or whose history
/// its definition would decide differently, is reported by id with the first divergent event.
struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay stored saga histories through the registered definitions and check their snapshots.",
        discussion: """
            Each saga's recorded inputs are fed to its definition with their recorded times; the events it
            decides must equal the recorded ones, and folding the log must give the stored snapshot.
            With --latest only sagas still in flight are checked unless --status says otherwise: finished ones
            never run again. Exit status: 0 when every saga checked replays identically, 2 when any does not,
            1 when the check itself failed (no store, a connection error).
            """
    )

    @OptionGroup var postgres: PostgresOptions

    @Option(help: "Only sagas of this type.")
    var type: String?

    @Option(help: "Only sagas in these statuses (comma-separated), e.g. running,compensating for those in flight (with --latest the default).")
    var status: String?

    @Option(name: .customLong("saga"), help: "Only this saga (repeatable).")
    var sagaIds: [String] = []

    @Option(help: "Check at most this many sagas, newest first.")
    var limit: Int?

    @Flag(help: "Check against the newest registered version of each type instead of the version each saga runs.")
    var latest = false

    /// What a check against the newest versions looks at by default: sagas that will still decide.
    static let inFlight: [SagaStatus] = [.running, .compensating, .failedNeedsOperator]

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        if !sagaIds.isEmpty, type != nil || status != nil || limit != nil {
            throw ValidationError("--saga names the sagas to check: it does not combine with --type, --status or --limit")
        }
        if let type, (try? SagaCatalog.registry.latest(name: type)) == nil {
            let known = Set(SagaCatalog.registry.all.map(\.name)).sorted().joined(separator: ", ")
            throw ValidationError("--type \(type) is not a registered saga type (this binary registers \(known.isEmpty ? "none" : known))")
        }
        if let status {
            for name in status.split(separator: ",") where SagaStatus(rawValue: String(name)) == nil {
                throw ValidationError(
                    "--status '\(name)' is not one of \(SagaStatus.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        }
    }

    func run() async throws {
        let registry = SagaCatalog.registry
        let summary = try await SagasCommand.withStore(postgres) { pool in try await check(pool: pool, registry: registry) }
        let against = latest ? "the newest registered versions" : "the versions they run"
        let definitions = summary.byDefinition.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
        print("skald replay: checked \(summary.checked) sagas against \(against)\(definitions.isEmpty ? "" : " (\(definitions))")")
        print("  \(summary.identical) replay identically\(latest ? "" : " and match their snapshots")")
        if summary.checked == 0 {
            print("  no saga matched: nothing was checked")
        }
        if summary.findingCount > 0 {
            print("  \(summary.findingCount) with findings (listed above)")
        }
        if summary.findingCount > 0 || summary.checked < sagaIds.count {
            throw ExitCode(2)
        }
    }

    private func check(pool: PostgresPool, registry: SagaRegistry) async throws -> StoreReplaySummary {
        let replay = StoreReplay(pool: pool, registry: registry)
        let target: StoreReplay.Target = latest ? .latestVersion : .recordedVersion
        let report: (StoreReplayFinding) -> Void = { print("  ✗ \($0)") }
        let summary: StoreReplaySummary
        if sagaIds.isEmpty {
            let filter = SagaListFilter(
                statuses: status.map { $0.split(separator: ",").compactMap { SagaStatus(rawValue: String($0)) } }
                    ?? (latest ? Self.inFlight : []),
                sagaType: type)
            summary = try await replay.run(filter, limit: limit, target: target, onFinding: report)
        } else {
            summary = try await replay.run(sagaIds: sagaIds, target: target, onFinding: report)
            if summary.checked < sagaIds.count {
                print("  ✗ \(sagaIds.count - summary.checked) of the sagas named do not exist")
            }
        }
        return summary
    }
}
