public import Foundation
public import Logging
import Synchronization

/// The projections one orchestrator process runs: their progress, and rebuilds on request.
public final class ProjectionCatalog: Sendable {
    /// The store they read from and write to.
    public let store: ProjectionStore
    /// One runner per projection, in the order they were given.
    public let runners: [ProjectionRunner]
    private let logger: Logger
    private let rebuilds = Mutex<[String: ProjectionRebuildState]>([:])
    /// The rebuilds running in this process, to stop them with the orchestrator.
    private let rebuildTasks = Mutex<[String: Task<Void, Never>]>([:])

    /// A catalog of `runners` over `store`.
    public init(store: ProjectionStore, runners: [ProjectionRunner], logger: Logger = Logger(label: "skald.projection")) {
        self.store = store
        self.runners = runners
        self.logger = logger
    }

    /// The runner of the projection called `name`, if this process runs it.
    public func runner(named name: String) -> ProjectionRunner? {
        runners.first { $0.projection.name == name }
    }

    /// Every projection this process runs, with what the store records of it.
    public func statuses() async throws -> [ProjectionStatus] {
        let records = try await store.records()
        return runners.map { runner in
            let name = runner.projection.name
            return ProjectionStatus(
                name: name, sagaTypes: runner.projection.sagaTypes, record: records[name], runner: runner.status,
                rebuild: rebuilds.withLock { $0[name] })
        }
    }

    /// The status of the projection called `name`, or nil when this process does not run it.
    public func status(named name: String) async throws -> ProjectionStatus? {
        guard runner(named: name) != nil else { return nil }
        return try await statuses().first { $0.name == name }
    }

    /// Starts rebuilding the projection called `name` in the background and returns at once.
    ///
    /// - Throws: ``ProjectionRebuildRefusal`` when this process does not run it, or a rebuild of
    ///   it is already running here.
    @discardableResult
    public func startRebuild(named name: String) throws(ProjectionRebuildRefusal) -> ProjectionRebuildState {
        guard let runner = runner(named: name) else { throw .unknown(name) }
        let started = ProjectionRebuildState(state: .running, startedAt: Date())
        let accepted = rebuilds.withLock { jobs -> Bool in
            if jobs[name]?.state == .running { return false }
            jobs[name] = started
            return true
        }
        guard accepted else { throw .alreadyRunning(name) }
        logger.notice("projection rebuild started", metadata: ["projection": "\(name)"])
        let task = Task {
            var finished = started
            do {
                let progress = try await store.rebuild(runner.projection)
                finished.state = .succeeded
                finished.events = progress.events
                finished.sagas = progress.sagas
                logger.notice(
                    "projection rebuilt",
                    metadata: ["projection": "\(name)", "sagas": "\(progress.sagas)", "events": "\(progress.events)"])
            } catch {
                finished.state = .failed
                finished.error = error is CancellationError ? "stopped with the orchestrator; the old read model stands" : "\(error)"
                logger.error("projection rebuild failed", metadata: ["projection": "\(name)", "error": "\(error)"])
            }
            finished.finishedAt = Date()
            let result = finished
            rebuilds.withLock { $0[name] = result }
        }
        rebuildTasks.withLock { $0[name] = task }
        return started
    }

    /// Stops the rebuilds running in this process (each rolls back at its next page) and waits
    /// for them: the orchestrator calls it before it closes its pool.
    public func stopRebuilds() async {
        let tasks = rebuildTasks.withLock { tasks in
            defer { tasks = [:] }
            return Array(tasks.values)
        }
        for task in tasks { task.cancel() }
        for task in tasks { await task.value }
    }

    /// Waits until the rebuilds started in this process have ended.
    public func waitForRebuilds() async {
        let tasks = rebuildTasks.withLock { Array($0.values) }
        for task in tasks { await task.value }
    }
}

/// Why a rebuild was not started.
public enum ProjectionRebuildRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    /// No projection of that name runs in this process.
    case unknown(String)
    /// One is running already.
    case alreadyRunning(String)

    /// Says which.
    public var description: String {
        switch self {
        case .unknown(let name): "no projection named '\(name)' runs here"
        case .alreadyRunning(let name): "projection '\(name)' is being rebuilt already"
        }
    }
}

/// A rebuild started in this process: running, or how it ended.
public struct ProjectionRebuildState: Sendable, Equatable, Codable {
    /// Where a rebuild is.
    public enum State: String, Sendable, Codable {
        /// Still applying.
        case running
        /// Committed.
        case succeeded
        /// Rolled back; the old read model stands.
        case failed
    }

    /// Where it is.
    public var state: State
    /// When it began.
    public var startedAt: Date
    /// When it ended.
    public var finishedAt: Date?
    /// Events it applied, once it succeeded.
    public var events: Int?
    /// Sagas it applied, once it succeeded.
    public var sagas: Int?
    /// Why it failed.
    public var error: String?

    /// A rebuild in `state`, begun at `startedAt`.
    public init(state: State, startedAt: Date) {
        self.state = state
        self.startedAt = startedAt
    }
}

/// One projection as the admin API and `skald projections list` show it.
public struct ProjectionStatus: Sendable, Equatable, Codable {
    /// Its name.
    public var name: String
    /// The saga types it reads; empty is every type.
    public var sagaTypes: [String]
    /// Whether its runner consumes in this process now.
    public var running: Bool
    /// Events applied since its last rebuild (or since it first ran).
    public var eventsApplied: Int
    /// Sagas it has applied events of.
    public var sagas: Int
    /// When this process's runner last applied a batch.
    public var lastAppliedAt: Date?
    /// The newest applied event's own time: how current the read model is.
    public var lastEventAt: Date?
    /// When its last rebuild committed (in any process).
    public var rebuiltAt: Date?
    /// The error of the batch that keeps failing, while it does.
    public var lastError: String?
    /// Since when batches fail.
    public var failingSince: Date?
    /// The last rebuild started in this process.
    public var rebuild: ProjectionRebuildState?

    /// The status from the store's record, the runner's state and the rebuild's.
    public init(
        name: String, sagaTypes: [String], record: ProjectionRecord?, runner: ProjectionRunnerState,
        rebuild: ProjectionRebuildState?
    ) {
        self.name = name
        self.sagaTypes = sagaTypes
        self.running = runner.running
        self.eventsApplied = record?.eventsApplied ?? 0
        self.sagas = record?.sagas ?? 0
        self.lastAppliedAt = runner.lastBatchAt
        self.lastEventAt = record?.lastEventAt
        self.rebuiltAt = record?.rebuiltAt
        self.lastError = runner.lastError
        self.failingSince = runner.failingSince
        self.rebuild = rebuild
    }
}
