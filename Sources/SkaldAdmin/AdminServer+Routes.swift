import Foundation
import Hummingbird
import Synchronization

extension AdminServer {
    /// The Prometheus text exposition format's content type.
    static let prometheusContentType = "text/plain; version=0.0.4; charset=utf-8"

    /// `/health`, `/ready`, `/metrics`.
    func makeRouter() -> Router<BasicRequestContext> {
        let router = Router()
        // Liveness: answering at all is the whole answer; a process that cannot is restarted.
        router.get("health") { _, _ -> Response in
            Self.json(.ok, ["status": "ok"])
        }
        let checks = checks
        let timeout = configuration.readinessTimeout
        router.get("ready") { _, _ -> Response in
            let report = await Self.readiness(of: checks, timeout: timeout)
            return Self.json(report.isReady ? .ok : .serviceUnavailable, report)
        }
        let registry = registry
        router.get("metrics") { _, _ -> Response in
            Response(
                status: .ok,
                headers: [.contentType: Self.prometheusContentType],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer()))
            )
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
    static func readiness(of checks: [ReadinessCheck], timeout: Duration) async -> ReadinessReport {
        let outcomes = await withTaskGroup(of: (String, String?).self) { group in
            for check in checks {
                group.addTask { (check.name, await failure(of: check, within: timeout)) }
            }
            var outcomes: [String: String] = [:]
            for await (name, failure) in group { outcomes[name] = failure ?? "ok" }
            return outcomes
        }
        let ready = outcomes.values.allSatisfy { $0 == "ok" }
        return ReadinessReport(status: ready ? "ready" : "not ready", checks: outcomes)
    }

    /// Why `check` failed, or nil when it passed within `timeout`.
    ///
    /// The check runs in a task of its own, not a child: a check stuck in a call that ignores
    /// cancellation (a pool waiting for a connection, a C library's network wait) must not
    /// hold up the answer, and a child task would, since a task group waits for its children.
    static func failure(of check: ReadinessCheck, within timeout: Duration) async -> String? {
        let answered = FirstAnswer()
        return await withCheckedContinuation { (continuation: CheckedContinuation<String?, Never>) in
            let work = Task {
                let failure: String?
                do {
                    try await check.check()
                    failure = nil
                } catch {
                    failure = "\(error)"
                }
                if answered.claim() { continuation.resume(returning: failure) }
            }
            Task {
                try? await Task.sleep(for: timeout)
                if answered.claim() {
                    work.cancel()
                    continuation.resume(returning: "no answer within \(timeout)")
                }
            }
        }
    }

    static func json(_ status: HTTPResponse.Status, _ value: some Encodable) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let bytes = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return Response(
            status: status,
            headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes))
        )
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
