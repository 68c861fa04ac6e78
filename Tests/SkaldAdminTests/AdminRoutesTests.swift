import Foundation
import Hummingbird
import HummingbirdTesting
import Prometheus
import SkaldAdmin
import SkaldRuntime
import Synchronization
import Testing

/// `/health`, `/ready` and `/metrics`, driven through the router without a socket.
@Suite("Admin HTTP: health, readiness and metrics")
struct AdminRoutesTests {
    private struct Failing: Error, CustomStringConvertible {
        var description: String { "connection refused" }
    }

    private static func server(checks: [ReadinessCheck] = [], registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) -> AdminServer {
        AdminServer(
            configuration: AdminConfiguration(port: 0, readinessTimeout: .milliseconds(300)), registry: registry, checks: checks)
    }

    private static func object(_ buffer: ByteBuffer) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any])
    }

    @Test("/health answers ok")
    func health() async throws {
        try await Self.server().application().test(.router) { client in
            try await client.execute(uri: "/health", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/json")
                let body = try Self.object(response.body)
                #expect(body["status"] as? String == "ok")
            }
        }
    }

    @Test("/ready is 200 when every check passes and 503 naming the one that failed, with its reason")
    func readiness() async throws {
        let postgresUp = Atomic<Bool>(true)
        let checks = [
            ReadinessCheck("postgres") {
                guard postgresUp.load(ordering: .relaxed) else { throw Failing() }
            },
            ReadinessCheck("kafka") {},
        ]
        try await Self.server(checks: checks).application().test(.router) { client in
            try await client.execute(uri: "/ready", method: .get) { response in
                #expect(response.status == .ok)
                let body = try Self.object(response.body)
                #expect(body["status"] as? String == "ready")
                #expect(body["checks"] as? [String: String] == ["postgres": "ok", "kafka": "ok"])
            }
            postgresUp.store(false, ordering: .relaxed)
            try await client.execute(uri: "/ready", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                let body = try Self.object(response.body)
                #expect(body["status"] as? String == "not ready")
                #expect(body["checks"] as? [String: String] == ["postgres": "connection refused", "kafka": "ok"])
            }
        }
    }

    @Test("a check that never returns, even when cancelled, fails after the timeout instead of holding /ready up, and runs once however often /ready asks")
    func stuckCheckTimesOut() async throws {
        // Released by the test, so the stuck check's task does not outlive it forever.
        let release = AsyncStream<Void>.makeStream()
        let calls = Atomic<Int>(0)
        let stuck = ReadinessCheck("postgres") {
            calls.add(1, ordering: .relaxed)
            // Ignores cancellation: only the stream's end lets it return.
            await Task.detached { for await _ in release.stream {} }.value
        }
        defer { release.continuation.finish() }
        try await Self.server(checks: [stuck, ReadinessCheck("kafka") {}]).application().test(.router) { client in
            for _ in 0..<2 {
                try await client.execute(uri: "/ready", method: .get) { response in
                    #expect(response.status == .serviceUnavailable)
                    let body = try Self.object(response.body)
                    let checks = try #require(body["checks"] as? [String: String])
                    #expect(checks["postgres"]?.hasPrefix("no answer within") == true, "\(checks)")
                    #expect(checks["kafka"] == "ok")
                }
            }
            #expect(calls.load(ordering: .relaxed) == 1, "the second probe waited for the first's run")

            // The dependency answers again: the stuck run ends, and the next probe runs the check anew.
            release.continuation.finish()
            var status = HTTPResponse.Status.serviceUnavailable
            for _ in 0..<50 where status != .ok {
                status = try await client.execute(uri: "/ready", method: .get) { $0.status }
            }
            #expect(status == .ok)
            #expect(calls.load(ordering: .relaxed) >= 2)
        }
    }

    @Test("/metrics serves the orchestrator's counters, timers and gauges in the Prometheus text format")
    func metrics() async throws {
        let registry = PrometheusCollectorRegistry()
        let metrics = OrchestratorMetrics(factory: PrometheusBootstrap.factory(registry: registry))
        metrics.transitions.increment(by: 3)
        metrics.saga("completed", type: "PlaceOrder")
        metrics.saga("completed", type: "PlaceOrder")
        metrics.consumerLag(topic: "skald.replies", messages: 7)
        metrics.outboxLag.record(1.5)
        metrics.stepLatency(type: "PlaceOrder", step: "pay", nanoseconds: 20_000_000)

        try await Self.server(registry: registry).application().test(.router) { client in
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/plain; version=0.0.4; charset=utf-8")
                let text = String(buffer: response.body)
                let lines = Set(text.split(separator: "\n").map(String.init))
                #expect(lines.contains("skald_saga_transitions_total 3"), "\(text)")
                #expect(lines.contains(#"skald_sagas_completed_total{saga_type="PlaceOrder"} 2"#), "\(text)")
                #expect(lines.contains(#"skald_consumer_lag_messages{topic="skald.replies"} 7.0"#), "\(text)")
                #expect(lines.contains("skald_outbox_lag_seconds 1.5"), "\(text)")
                #expect(lines.contains(#"skald_step_latency_seconds_count{saga_type="PlaceOrder",step="pay"} 1"#), "\(text)")
                #expect(lines.contains("# TYPE skald_step_latency_seconds histogram"), "\(text)")
                // Skald's buckets: a 20 ms step lands between 10 and 25 ms, and the finest is 0.5 ms.
                #expect(lines.contains(#"skald_step_latency_seconds_bucket{saga_type="PlaceOrder",step="pay",le="0.01"} 0"#), "\(text)")
                #expect(lines.contains(#"skald_step_latency_seconds_bucket{saga_type="PlaceOrder",step="pay",le="0.025"} 1"#), "\(text)")
                #expect(lines.contains(#"skald_step_latency_seconds_bucket{saga_type="PlaceOrder",step="pay",le="0.0005"} 0"#), "\(text)")
            }
        }
    }

    @Test("each /metrics answer first reads the levels (beforeScrape), so a gauge set there is in that very answer")
    func scrapeReadsLevels() async throws {
        let registry = PrometheusCollectorRegistry()
        let metrics = OrchestratorMetrics(factory: PrometheusMetricsFactory(registry: registry))
        let scrapes = Atomic<Int>(0)
        let server = AdminServer(
            configuration: AdminConfiguration(port: 0, readinessTimeout: .milliseconds(300)), registry: registry, checks: [],
            beforeScrape: {
                let count = scrapes.add(1, ordering: .relaxed).newValue
                metrics.outboxPendingRows.record(count * 10)
            })
        try await server.application().test(.router) { client in
            for expected in 1...2 {
                try await client.execute(uri: "/metrics", method: .get) { response in
                    let lines = Set(String(buffer: response.body).split(separator: "\n").map(String.init))
                    #expect(lines.contains("skald_outbox_pending_rows \(Double(expected * 10))"), "\(lines)")
                }
            }
        }
        #expect(scrapes.load(ordering: .relaxed) == 2)
    }

    @Test("a reading that hangs does not hold /metrics up: it answers with the last values")
    func hangingScrapeHookTimesOut() async throws {
        let release = AsyncStream<Void>.makeStream()
        defer { release.continuation.finish() }
        let server = AdminServer(
            configuration: AdminConfiguration(port: 0, readinessTimeout: .milliseconds(300)),
            registry: PrometheusCollectorRegistry(), checks: [],
            beforeScrape: { await Task.detached { for await _ in release.stream {} }.value })
        try await server.application().test(.router) { client in
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
            }
        }
    }

    @Test("an unknown path is 404")
    func unknownPath() async throws {
        try await Self.server().application().test(.router) { client in
            try await client.execute(uri: "/nothing", method: .get) { response in
                #expect(response.status == .notFound)
            }
        }
    }
}
