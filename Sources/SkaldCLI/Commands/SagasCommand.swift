import ArgumentParser
import Foundation
import Skald
import SkaldPostgres
import SkaldRuntime

/// `skald sagas`: saga state from the store, for a terminal (what the admin API serves over HTTP).
struct SagasCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sagas",
        abstract: "List, search and show sagas from the store.",
        subcommands: [SagasListCommand.self, SagasShowCommand.self]
    )

    /// Runs `body` with a one-connection pool on the store, closing it afterwards.
    static func withQueries<Result>(_ postgres: PostgresOptions, _ body: (SagaQueries) async throws -> Result) async throws -> Result {
        try await withStore(postgres) { try await body(SagaQueries(pool: $0)) }
    }

    /// Runs `body` with a one-connection pool on the store, closing it afterwards; a database
    /// without Skald's tables is said in those words.
    static func withStore<Result>(_ postgres: PostgresOptions, _ body: (PostgresPool) async throws -> Result) async throws -> Result {
        let url = try postgres.requiredURL()
        let pool = PostgresPool(url: url, minimumConnections: 0, maximumConnections: 1)
        do {
            let result = try await body(pool)
            await pool.close()
            return result
        } catch let error as PostgresError where error.sqlState == "42P01" {
            await pool.close()
            throw SettingsError(
                "no saga store at \(PostgresConnection.redacted(url)): its tables are missing (apply them with `skald migrate --postgres URL`, or check the URL's search_path)")
        } catch {
            await pool.close()
            throw error
        }
    }

    /// JSON as the admin API writes it: sorted keys, instants as RFC 3339 with microseconds.
    static func json(_ value: some Encodable) throws -> String {
        String(decoding: try JSONEncoder.sagaViews(pretty: true).encode(value), as: UTF8.self)
    }
}

/// `skald sagas list`: newest first, filtered like `GET /api/v1/sagas`.
struct SagasListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List sagas, newest first, by status, type, business key or stuck.")

    @OptionGroup var postgres: PostgresOptions

    @Option(help: "Only these statuses (comma-separated): running, compensating, completed, compensated, failed_needs_operator.")
    var status: String?

    @Option(help: "Only this saga type.")
    var type: String?

    @Option(help: "Only the saga with this business key (e.g. an order id).")
    var key: String?

    @Flag(help: "Only stuck sagas: waiting for an operator, or running or compensating with no event for --stuck-after seconds.")
    var stuck = false

    @Option(help: "Seconds of quiet that make a running saga stuck.")
    var stuckAfter: Int = 300

    @Option(help: "How many to list (1 to 1000).")
    var limit: Int = 50

    @Option(help: "Continue after this cursor (printed at the end of a full page).")
    var cursor: String?

    @Flag(help: "Print JSON, as the admin API answers.")
    var json = false

    func validate() throws {
        guard (1...1000).contains(limit) else { throw ValidationError("--limit must be from 1 to 1000") }
        guard stuckAfter >= 0 else { throw ValidationError("--stuck-after must be 0 or more") }
        for name in (status ?? "").split(separator: ",") where SagaStatus(rawValue: String(name)) == nil {
            throw ValidationError("--status '\(name)' is not one of \(SagaStatus.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let cursor, SagaListCursor(token: cursor) == nil { throw ValidationError("--cursor '\(cursor)' is not a cursor skald printed") }
    }

    func run() async throws {
        let filter = SagaListFilter(
            statuses: (status ?? "").split(separator: ",").compactMap { SagaStatus(rawValue: String($0)) }, sagaType: type,
            businessKey: key, stuckFor: stuck ? .seconds(stuckAfter) : nil)
        let page = try await SagasCommand.withQueries(postgres) { queries in
            try await queries.list(filter, limit: limit, after: cursor.flatMap(SagaListCursor.init(token:)))
        }
        if json {
            struct Page: Encodable {
                var sagas: [SagaSummary]
                var nextCursor: String?
            }
            print(try SagasCommand.json(Page(sagas: page.sagas, nextCursor: page.next?.token)))
            return
        }
        let rows = page.sagas.map { saga in
            [saga.sagaId, "\(saga.sagaType) v\(saga.version)", saga.status.rawValue, saga.currentStep ?? "-", saga.businessKey ?? "-",
             Timestamp.format(saga.createdAt)]
        }
        for line in Self.table(header: ["SAGA", "TYPE", "STATUS", "STEP", "KEY", "STARTED"], rows: rows) { print(line) }
        if let next = page.next {
            print("more: skald sagas list … --cursor \(next.token)")
        } else if rows.isEmpty {
            print("no sagas match")
        }
    }

    /// Left-aligned columns two spaces apart.
    static func table(header: [String], rows: [[String]]) -> [String] {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
    }
}

/// `skald sagas show ID`: one saga's snapshot, steps, state, operator actions and timeline.
struct SagasShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Show one saga: status, steps, state, operator actions and its timeline of events.")

    @OptionGroup var postgres: PostgresOptions

    @Argument(help: "The saga id.")
    var sagaId: String

    @Flag(help: "Print JSON, as the admin API answers (the saga, then its events).")
    var json = false

    func run() async throws {
        let (saga, events) = try await SagasCommand.withQueries(postgres) { queries in
            (try await queries.saga(id: sagaId), try await queries.events(sagaId: sagaId, limit: 100_000))
        }
        guard let saga else {
            throw SettingsError("no saga with id '\(sagaId)' (`skald sagas list --key …` finds one by business key)")
        }
        if json {
            struct Shown: Encodable {
                var saga: SagaDetail
                var events: [SagaTimelineEntry]
            }
            print(try SagasCommand.json(Shown(saga: saga, events: events ?? [])))
            return
        }
        let summary = saga.summary
        print("\(summary.sagaId)  \(summary.sagaType) v\(summary.version)  \(summary.status.rawValue)")
        if let key = summary.businessKey { print("key       \(key)") }
        if let step = summary.currentStep { print("at step   \(step)") }
        if let reason = summary.stuckReason { print("stuck     \(reason)") }
        print("started   \(Timestamp.format(summary.createdAt)), last event \(Timestamp.format(summary.updatedAt))")
        print("\nsteps")
        for line in SagasListCommand.table(
            header: ["  STEP", "KIND", "PHASE", "COMPENSATION", "ATTEMPT"],
            rows: saga.steps.map { ["  " + $0.name, $0.kind, $0.phase, $0.compensation, String($0.attempt)] })
        {
            print(line)
        }
        print("\nstate\n  " + (try SagasCommand.json(saga.state)).replacingOccurrences(of: "\n", with: "\n  "))
        if !saga.audit.isEmpty {
            print("\noperator actions")
            for entry in saga.audit {
                print("  \(Timestamp.format(entry.at))  \(entry.action) by \(entry.actor): \(entry.outcome)\(entry.reason.isEmpty ? "" : " (\(entry.reason))")")
            }
        }
        print("\ntimeline")
        for line in SagasListCommand.table(
            header: ["  #", "EVENT", "STEP", "AT"],
            rows: (events ?? []).map { event in
                let step: String = if case .object(let fields) = event.event, case .string(let name)? = fields["step"] { name } else { "" }
                return ["  \(event.sequence)", event.type, step, Timestamp.format(event.recordedAt)]
            })
        {
            print(line)
        }
    }
}
