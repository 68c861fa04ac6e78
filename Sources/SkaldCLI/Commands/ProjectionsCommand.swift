import ArgumentParser
import Foundation
import SkaldPostgres
import SkaldRuntime

/// `skald projections`: the registered read models, how far they are, and rebuilds.
struct ProjectionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "projections",
        abstract: "List the projections (read models) and how far they have applied, or rebuild one.",
        subcommands: [ProjectionsListCommand.self, ProjectionsRebuildCommand.self]
    )
}

/// `skald projections list`: every registered projection with what the store records of it.
struct ProjectionsListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List the registered projections with their progress in the store.")

    @OptionGroup var postgres: PostgresOptions

    @Flag(help: "Print JSON, as the admin API answers.")
    var json = false

    func run() async throws {
        let projections = SagaCatalog.projections
        let records = try await SagasCommand.withStore(postgres) { pool in
            try await ProjectionStore(pool: pool, registry: SagaCatalog.registry).records()
        }
        let statuses = projections.map { projection in
            ProjectionStatus(
                name: projection.name, sagaTypes: projection.sagaTypes, record: records[projection.name],
                runner: ProjectionRunnerState(), rebuild: nil)
        }
        if json {
            print(try SagasCommand.json(statuses))
            return
        }
        guard !statuses.isEmpty else {
            print("no projection is registered in this executable")
            return
        }
        for status in statuses {
            let types = status.sagaTypes.isEmpty ? "every saga type" : status.sagaTypes.joined(separator: ", ")
            print("\(status.name)  (\(types))")
            guard records[status.name] != nil else {
                print("  never run against this store")
                continue
            }
            print("  applied          \(status.eventsApplied) events of \(status.sagas) sagas")
            print("  newest event     \(status.lastEventAt.map(Self.format) ?? "none")")
            let rebuilt = records[status.name].flatMap { record in
                record.rebuiltAt.map { "\(Self.format($0)) (\(record.rebuiltEvents ?? 0) events of \(record.rebuiltSagas ?? 0) sagas)" }
            }
            print("  rebuilt          \(rebuilt ?? "never")")
        }
    }

    private static func format(_ date: Date) -> String {
        date.formatted(.iso8601)
    }
}

/// `skald projections rebuild NAME`: empties the read model and applies every saga's log again.
struct ProjectionsRebuildCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebuild",
        abstract: "Rebuild a projection from the saga store, in one transaction.",
        discussion: """
            The read model is emptied and every saga's whole log applied again, from `saga_events`. \
            Until the rebuild commits, readers see the old read model; running projection runners \
            (in `skald serve`) wait for it and then go on from where it ended, so it is safe while \
            the orchestrator runs.
            """)

    @OptionGroup var postgres: PostgresOptions

    @Argument(help: "The projection's name (see `skald projections list`).")
    var name: String

    func validate() throws {
        guard SagaCatalog.projection(named: name) != nil else {
            let known = SagaCatalog.projections.map(\.name)
            throw ValidationError(
                "no projection named '\(name)' is registered"
                    + (known.isEmpty ? "" : " (registered: \(known.joined(separator: ", ")))"))
        }
    }

    func run() async throws {
        guard let projection = SagaCatalog.projection(named: name) else { return }
        let clock = ContinuousClock()
        let started = clock.now
        let progress = try await SagasCommand.withStore(postgres) { pool in
            try await ProjectionStore(pool: pool, registry: SagaCatalog.registry).rebuild(projection)
        }
        let elapsed = clock.now - started
        print("rebuilt \(name): \(progress.events) events of \(progress.sagas) sagas in \(elapsed.formatted(.units(allowed: [.seconds, .milliseconds], width: .narrow)))")
    }
}
