import Foundation
import Hummingbird
import Synchronization

extension AdminServer {
    /// The Prometheus text exposition format's content type.
    static let prometheusContentType = "text/plain; version=0.0.4; charset=utf-8"

    /// `/health`, `/ready`, `/metrics`, and the API and dashboard when there is an ``AdminAPI``.
    func makeRouter() -> Router<BasicRequestContext> {
        let router = Router()
        let logger = logger
        // Liveness: answering at all is the whole answer; a process that cannot is restarted.
        router.get("health") { _, _ -> Response in
            Self.json(.ok, ["status": "ok"])
        }
        let checks = checks
        let timeout = configuration.readinessTimeout
        let inFlight = InFlightChecks()
        router.get("ready") { _, _ -> Response in
            let report = await Self.readiness(of: checks, inFlight: inFlight, timeout: timeout)
            return Self.json(report.isReady ? .ok : .serviceUnavailable, report)
        }
        let registry = registry
        let beforeScrape = beforeScrape
        router.get("metrics") { _, _ -> Response in
            // Levels read now; a reading that hangs (Postgres away) leaves the last values.
            if await Self.failure(of: Task { await beforeScrape(); return nil }, within: timeout) != nil {
                logger.debug("/metrics answered without fresh lag gauges: they took longer than \(timeout)")
            }
            return Response(
                status: .ok,
                headers: [.contentType: Self.prometheusContentType],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer()))
            )
        }
        if var api {
            api.loopbackOnly = AdminConfiguration.isLoopback(configuration.host)
            api.allowedHosts = Set(configuration.allowedHosts.map { $0.lowercased() })
            Self.addAPIRoutes(to: router, api: api, logger: logger)
            Self.addProjectionRoutes(to: router, api: api, logger: logger)
            Self.addDeadLetterRoutes(to: router, api: api, logger: logger)
            Self.addDashboard(to: router)
        }
        return router
    }

    /// What `/ready` answers: `ready` when every check passed, and each check's outcome.
    struct ReadinessReport: Encodable {
        /// `ready` or `not ready`.
        var status: String
        /// Check name → `ok` or why it failed.
        var checks: [String: String]

        var isReady: Bool { status == "ready" }
    }

    /// Runs every check at once, each bounded by `timeout`.
    static func readiness(of checks: [ReadinessCheck], inFlight: InFlightChecks, timeout: Duration) async -> ReadinessReport {
        let outcomes = await withTaskGroup(of: (String, String?).self) { group in
            for check in checks {
                group.addTask { (check.name, await failure(of: inFlight.run(check), within: timeout)) }
            }
            var outcomes: [String: String] = [:]
            for await (name, failure) in group { outcomes[name] = failure ?? "ok" }
            return outcomes
        }
        let ready = outcomes.values.allSatisfy { $0 == "ok" }
        return ReadinessReport(status: ready ? "ready" : "not ready", checks: outcomes)
    }

    /// Why the check `running` failed, or nil when it passed within `timeout`.
    ///
    /// The check runs in a task of its own, not a child: a check stuck in a call that ignores
    /// cancellation (libpq or librdkafka waiting on the network) must not hold up the answer,
    /// and a child task would, since a task group waits for its children.
    static func failure(of running: Task<String?, Never>, within timeout: Duration) async -> String? {
        let answered = FirstAnswer()
        return await withCheckedContinuation { (continuation: CheckedContinuation<String?, Never>) in
            let timer = Task {
                do {
                    try await Task.sleep(for: timeout)
                } catch {
                    return  // the check answered first
                }
                if answered.claim() { continuation.resume(returning: "no answer within \(timeout)") }
            }
            Task {
                let failure = await running.value
                timer.cancel()
                if answered.claim() { continuation.resume(returning: failure) }
            }
        }
    }

    static func json(_ status: HTTPResponse.Status, _ value: some Encodable) -> Response {
        let encoder = JSONEncoder.sagaViews()
        let bytes = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return Response(
            status: status,
            headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes))
        )
    }
}

/// The checks running now, by name: a probe that arrives while one is still running (a
/// dependency that hangs, probes every second) waits for that run instead of starting
/// another, so stuck calls do not pile up on the clients' worker threads.
final class InFlightChecks: Sendable {
    private let running = Mutex<[String: Task<String?, Never>]>([:])

    /// The run of `check` in progress, or a new one: its failure, or nil when it passed.
    func run(_ check: ReadinessCheck) -> Task<String?, Never> {
        running.withLock { running in
            if let task = running[check.name] { return task }
            // Created under the lock: the task's own removal below waits for this insertion.
            let task = Task {
                let failure: String?
                do {
                    try await check.check()
                    failure = nil
                } catch {
                    failure = "\(error)"
                }
                self.running.withLock { $0[check.name] = nil }
                return failure
            }
            running[check.name] = task
            return task
        }
    }
}

/// Lets exactly one of two racing tasks answer.
private final class FirstAnswer: Sendable {
    private let answered = Atomic<Bool>(false)

    /// True for the first caller only.
    func claim() -> Bool {
        !answered.exchange(true, ordering: .acquiringAndReleasing)
    }
}
