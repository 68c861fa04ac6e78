import Foundation
import Hummingbird
import HummingbirdTesting
import Prometheus
import Skald
@testable import SkaldAdmin
import SkaldExamples
import SkaldKafka
import SkaldPostgres
import SkaldRuntime
import SkaldTestSupport
import Testing

/// The saga API and the dashboard, driven through the router against a real Postgres store.
///
/// The orchestrator is not running: sagas started here stay at their first step, which is
/// where listing, searching and operator actions are most interesting.
@Suite("Admin HTTP: the saga API")
struct AdminAPITests {
    typealias JSON = [String: Any]

    /// An API over a fresh store with PlaceOrder registered, and its orchestrator.
    private static func withAPI(
        access: AdminAccess = .open, statsMaxAge: Duration = .zero,
        _ body: @escaping @Sendable (any TestClientProtocol, Orchestrator) async throws -> Void
    ) async throws {
        let url = try await TestPostgres.freshStore("admin")
        let cluster = try MockCluster(brokers: 1)
        var registry = SagaRegistry()
        try registry.register(placeOrder)
        let orchestrator = try Orchestrator(
            registry: registry,
            configuration: OrchestratorConfiguration(
                kafka: KafkaConfiguration(bootstrapServers: cluster.bootstrapServers), postgresURL: url),
            projections: [OrderBoardProjection()])
        let server = AdminServer(
            configuration: AdminConfiguration(port: 0), registry: PrometheusCollectorRegistry(),
            checks: [],
            api: AdminAPI(orchestrator: orchestrator, access: access, statsMaxAge: statsMaxAge))
        try await server.application().test(.router) { client in try await body(client, orchestrator) }
        await orchestrator.projections.waitForRebuilds()
        await orchestrator.pool.close()
    }

    private static func order(_ id: String, amountCents: Int = 1200) -> ByteBuffer {
        ByteBuffer(
            string:
                #"{"orderId":"\#(id)","customerId":"customer-1","lines":[{"sku":"sku-1","quantity":2}],"amountCents":\#(amountCents)}"#
        )
    }

    private static func object(_ buffer: ByteBuffer) throws -> JSON {
        try #require(try JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? JSON)
    }

    /// The error body's code, checking its shape.
    private static func errorCode(_ response: TestResponse) throws -> String? {
        let error = try #require(try object(response.body)["error"] as? JSON)
        #expect((error["message"] as? String)?.isEmpty == false)
        return error["code"] as? String
    }

    /// What every POST sends: the API refuses bodies of any other type (see ``crossSiteRequests()``).
    static let jsonHeaders: HTTPFields = [.contentType: "application/json"]

    @discardableResult
    private static func start(
        _ client: any TestClientProtocol, key: String, headers: HTTPFields = [:]
    ) async throws -> String {
        var headers = headers
        headers[HTTPFields.Element.Name("Idempotency-Key")!] = key
        headers[.contentType] = "application/json"
        return try await client.execute(
            uri: "/api/v1/sagas/PlaceOrder?messageType=com.example.orders.PlaceOrder", method: .post,
            headers: headers,
            body: order("order-\(key)")
        ) { response in
            #expect(response.status == .created)
            let body = try object(response.body)
            let sagaId = try #require(body["sagaId"] as? String)
            let location = response.headers[.location] ?? ""
            #expect(location.hasPrefix("/api/v1/sagas/") && location.removingPercentEncoding == "/api/v1/sagas/\(sagaId)")
            #expect(!location.dropFirst("/api/v1/sagas/".count).contains { " /?#".contains($0) }, "one encoded path segment")
            return sagaId
        }
    }

    private static func list(_ client: any TestClientProtocol, _ query: String) async throws -> (
        ids: [String], next: String?, sagas: [JSON]
    ) {
        try await client.execute(uri: "/api/v1/sagas?\(query)", method: .get) { response in
            #expect(response.status == .ok)
            let body = try object(response.body)
            let sagas = try #require(body["sagas"] as? [JSON])
            return (sagas.compactMap { $0["sagaId"] as? String }, body["nextCursor"] as? String, sagas)
        }
    }

    private static func total(_ client: any TestClientProtocol) async throws -> Int {
        try await client.execute(uri: "/api/v1/stats", method: .get) { response in
            let counts = try #require(try object(response.body)["counts"] as? [JSON])
            return counts.compactMap { $0["count"] as? Int }.reduce(0, +)
        }
    }

    @Test(
        "sagas started over HTTP are listed newest first, paged by cursor, and found by status, type and key"
    )
    func listing() async throws {
        try await Self.withAPI { client, _ in
            var started: [String] = []
            for index in 1...5 { started.append(try await Self.start(client, key: "k\(index)")) }
            // The same key again starts nothing new.
            #expect(try await Self.start(client, key: "k3") == started[2])
            #expect(try await Self.total(client) == 5)

            var seen: [String] = []
            var cursor: String?
            var pages = 0
            repeat {
                let page = try await Self.list(client, "limit=2" + (cursor.map { "&cursor=\($0)" } ?? ""))
                #expect(page.ids.count == (pages < 2 ? 2 : 1))
                seen += page.ids
                cursor = page.next
                pages += 1
            } while cursor != nil && pages < 10
            #expect(pages == 3)
            #expect(seen.count == 5 && Set(seen) == Set(started))
            let all = try await Self.list(client, "limit=50")
            let created = all.sagas.compactMap { $0["createdAt"] as? String }
            #expect(created == created.sorted(by: >), "newest first")

            #expect(Set(try await Self.list(client, "status=running").ids) == Set(started))
            #expect(try await Self.list(client, "status=completed,compensated").ids.isEmpty)
            #expect(try await Self.list(client, "key=order-k4").ids == [started[3]])
            #expect(
                try await Self.list(client, "type=PlaceOrder&key=order-k4&status=running").ids == [
                    started[3]
                ])
            #expect(try await Self.list(client, "type=NoSuchSaga").ids.isEmpty)
            // Quiet for at least 0 s: every running saga; for the default 5 minutes: none yet.
            #expect(Set(try await Self.list(client, "stuck=true&stuckAfter=0").ids) == Set(started))
            #expect(try await Self.list(client, "stuck=true").ids.isEmpty)
        }
    }

    @Test(
        "a saga in full, its timeline, and an abort that compensates and is audited under the caller's name"
    )
    func detailTimelineAndAbort() async throws {
        try await Self.withAPI { client, _ in
            let sagaId = try await Self.start(client, key: "d1")
            try await client.execute(uri: "/api/v1/sagas/\(sagaId)", method: .get) { response in
                #expect(response.status == .ok)
                let saga = try Self.object(response.body)
                #expect(saga["status"] as? String == "running")
                #expect(saga["currentStep"] as? String == "create-order")
                #expect(saga["businessKey"] as? String == "order-d1")
                #expect((saga["state"] as? JSON)?["orderId"] as? String == "order-d1")
                let steps = try #require(saga["steps"] as? [JSON])
                #expect(
                    steps.compactMap { $0["name"] as? String }
                        == [
                            "create-order", "reserve-inventory", "process-payment", "confirm-order",
                            "notify-customer",
                        ])
                #expect(steps.first?["phase"] as? String == "running")
                #expect((saga["audit"] as? [Any])?.isEmpty == true)
                // What it waits for: its first step's timeout, then its deadline; the timer
                // service looks at it no later than the first.
                let timers = try #require(saga["timers"] as? [JSON])
                #expect(timers.compactMap { $0["kind"] as? String } == ["step-timeout", "deadline"])
                #expect(timers.first?["step"] as? String == "create-order")
                #expect(timers.first?["attempt"] as? Int == 1)
                let firstDue = try #require(timers.first?["due"] as? String)
                #expect(saga["wakeAt"] as? String == firstDue)
            }
            let types = try await client.execute(uri: "/api/v1/sagas/\(sagaId)/events", method: .get) {
                response in
                #expect(response.status == .ok)
                let events = try #require(try Self.object(response.body)["events"] as? [JSON])
                #expect(events.compactMap { $0["sequence"] as? Int } == Array(1...events.count))
                return events.compactMap { $0["type"] as? String }
            }
            #expect(types == ["saga.started", "step.command-sent"])
            let replay = try await client.execute(uri: "/api/v1/sagas/\(sagaId)/replay", method: .get) { try Self.object($0.body) }
            #expect(replay["result"] as? String == "identical" && replay["definition"] as? String == "PlaceOrder v1", "\(replay)")

            // An abort needs a reason for the audit log.
            try await client.execute(
                uri: "/api/v1/sagas/\(sagaId)/abort", method: .post, headers: Self.jsonHeaders, body: ByteBuffer(string: "{}")
            ) { response in
                #expect(response.status == .badRequest)
                let code = try Self.errorCode(response)
                #expect(code == "invalid_request")
            }
            try await client.execute(
                uri: "/api/v1/sagas/\(sagaId)/abort", method: .post, headers: Self.jsonHeaders,
                body: ByteBuffer(string: #"{"reason":"customer called"}"#)
            ) { response in
                #expect(response.status == .ok)
                let body = try Self.object(response.body)
                #expect(body["outcome"] as? String == "applied")
                let saga = try #require(body["saga"] as? JSON)
                #expect(saga["status"] as? String == "compensating")
                let audit = try #require(saga["audit"] as? [JSON])
                #expect(audit.count == 1)
                #expect(audit.first?["action"] as? String == "abort")
                #expect(audit.first?["actor"] as? String == "anonymous")
                #expect(audit.first?["reason"] as? String == "customer called")
                #expect(audit.first?["outcome"] as? String == "applied")
            }
            try await client.execute(uri: "/api/v1/sagas/\(sagaId)/events?after=2", method: .get) {
                response in
                let events = try #require(try Self.object(response.body)["events"] as? [JSON])
                #expect(events.first?["sequence"] as? Int == 3)
                #expect(events.contains { ($0["type"] as? String)?.hasPrefix("operator.") == true })
            }
            #expect(try await Self.list(client, "status=compensating").ids == [sagaId])
            // Again: the saga refuses, and the answer says why instead of "applied".
            try await client.execute(
                uri: "/api/v1/sagas/\(sagaId)/abort", method: .post, headers: Self.jsonHeaders,
                body: ByteBuffer(string: #"{"reason":"twice"}"#)
            ) { response in
                #expect(response.status == .conflict)
                let error = try #require(try Self.object(response.body)["error"] as? JSON)
                #expect(error["code"] as? String == "conflict")
                #expect(error["message"] as? String == "the saga is already compensating")
            }
            let audit = try await client.execute(uri: "/api/v1/sagas/\(sagaId)", method: .get) { try Self.object($0.body)["audit"] as? [JSON] }
            #expect(audit?.compactMap { $0["outcome"] as? String } == ["applied", "refused: the saga is already compensating"])
        }
    }

    @Test("sagas started in the same microsecond page by id, with no saga lost or repeated at a page boundary")
    func pagesThroughEqualStartTimes() async throws {
        try await Self.withAPI { client, orchestrator in
            // Twelve sagas, three start times: the cursor's tie-break on saga_id decides the pages.
            try await orchestrator.pool.withConnection { connection in
                _ = try await connection.execute(
                    """
                    INSERT INTO sagas (saga_id, saga_type, definition_version, status, state, steps, business_key,
                                       last_sequence, created_at, updated_at)
                    SELECT 'tie-' || lpad(g::text, 2, '0'), 'PlaceOrder', 1, CASE WHEN g % 2 = 0 THEN 'completed' ELSE 'running' END,
                           '{}', '[]', 'order-tie-' || g, 1, timestamptz '2026-01-01' + (g % 3) * interval '1 microsecond', now()
                    FROM generate_series(1, 12) g
                    """)
            }
            for (query, count) in [("limit=1", 12), ("limit=5", 12), ("limit=2&status=running", 6), ("limit=4&type=PlaceOrder&status=completed,running", 12)] {
                var seen: [JSON] = []
                var cursor: String?
                for _ in 0..<20 {
                    let page = try await Self.list(client, query + (cursor.map { "&cursor=\($0)" } ?? ""))
                    seen += page.sagas
                    cursor = page.next
                    if cursor == nil { break }
                }
                let ids = seen.compactMap { $0["sagaId"] as? String }
                #expect(ids.count == count && Set(ids).count == count, "\(query): \(ids)")
                let keys: [String] = seen.map { saga in
                    let created = saga["createdAt"] as? String ?? ""
                    let id = saga["sagaId"] as? String ?? ""
                    return created + " " + id
                }
                // The timestamps have one format and length, so text order is time order.
                #expect(keys == keys.sorted(by: >), "\(query): newest first, then by id")
            }
        }
    }

    @Test("stuck lists sagas waiting for an operator at once, and quiet running ones after stuckAfter")
    func stuckSagas() async throws {
        try await Self.withAPI { client, orchestrator in
            let waiting = try await Self.start(client, key: "s1")
            let quiet = try await Self.start(client, key: "s2")
            let busy = try await Self.start(client, key: "s3")
            try await orchestrator.pool.withConnection { connection in
                _ = try await connection.execute(
                    "UPDATE sagas SET status = 'failed_needs_operator', stuck_reason = 'refund keeps failing' WHERE saga_id = \(waiting)")
                _ = try await connection.execute("UPDATE sagas SET updated_at = now() - interval '10 minutes' WHERE saga_id = \(quiet)")
            }
            #expect(Set(try await Self.list(client, "stuck=true").ids) == [waiting, quiet])
            #expect(Set(try await Self.list(client, "stuck=true&stuckAfter=0").ids) == [waiting, quiet, busy])
            #expect(try await Self.list(client, "stuck=true&stuckAfter=3600").ids == [waiting])
            let stats = try await client.execute(uri: "/api/v1/stats", method: .get) { try Self.object($0.body) }
            #expect(stats["stuck"] as? Int == 2)
            let detail = try await client.execute(uri: "/api/v1/sagas/\(waiting)", method: .get) { try Self.object($0.body) }
            #expect(detail["stuckReason"] as? String == "refund keeps failing")
            // That status was written by hand, not by the log: the replay check says so.
            let replay = try await client.execute(uri: "/api/v1/sagas/\(waiting)/replay", method: .get) { try Self.object($0.body) }
            #expect(replay["result"] as? String == "snapshot-differs")
            #expect((replay["explanation"] as? String)?.contains("status (log: running, stored: failed_needs_operator)") == true, "\(replay)")
            try await client.execute(uri: "/api/v1/sagas/no-such-saga/replay", method: .get) { response in
                #expect(response.status == .notFound)
            }
        }
    }

    @Test("the counts are reused for statsMaxAge, so many dashboards cost one count")
    func statsAreShared() async throws {
        try await Self.withAPI(statsMaxAge: .seconds(60)) { client, _ in
            #expect(try await Self.total(client) == 0)
            try await Self.start(client, key: "c1")
            #expect(try await Self.total(client) == 0, "the answer of a moment ago")
        }
        try await Self.withAPI(statsMaxAge: .zero) { client, _ in
            #expect(try await Self.total(client) == 0)
            try await Self.start(client, key: "c1")
            #expect(try await Self.total(client) == 1, "counted again")
        }
    }

    @Test("a saga id with reserved characters is reached through its percent-encoded path")
    func reservedCharacters() async throws {
        try await Self.withAPI { client, _ in
            let sagaId = try await Self.start(client, key: "a b/c:d%e?f#g")
            #expect(sagaId == "PlaceOrder-a b/c:d%e?f#g")
            let encoded = try #require(sagaId.addingPercentEncoding(withAllowedCharacters: .alphanumerics))
            let saga = try await client.execute(uri: "/api/v1/sagas/\(encoded)", method: .get) { try Self.object($0.body) }
            #expect(saga["sagaId"] as? String == sagaId)
            try await client.execute(uri: "/api/v1/sagas/\(encoded)/events", method: .get) { response in
                #expect(response.status == .ok)
            }
            let key = try #require("order-a b/c:d%e?f#g".addingPercentEncoding(withAllowedCharacters: .alphanumerics))
            #expect(try await Self.list(client, "key=\(key)").ids == [sagaId])
            try await client.execute(uri: "/api/v1/sagas?key=a%00b", method: .get) { response in
                #expect(response.status == .badRequest)
            }
        }
    }

    @Test("a page from another site cannot drive the API: cross-origin, a foreign Host, or a POST that is not JSON")
    func crossSiteRequests() async throws {
        try await Self.withAPI { client, _ in
            let start = "/api/v1/sagas/PlaceOrder?messageType=com.example.orders.PlaceOrder"
            // What a form or a no-preflight fetch can send.
            for type in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"] {
                try await client.execute(uri: start, method: .post, headers: [.contentType: type], body: Self.order("x1")) { response in
                    #expect(response.status == .unsupportedMediaType, "\(type)")
                }
            }
            try await client.execute(uri: start, method: .post, body: Self.order("x1")) { response in
                #expect(response.status == .unsupportedMediaType, "no content type")
            }
            try await client.execute(
                uri: start, method: .post, headers: [.contentType: "application/json", .origin: "https://evil.example"],
                body: Self.order("x2")
            ) { response in
                #expect(response.status == .forbidden)
            }
            try await client.execute(
                uri: "/api/v1/sagas", method: .get, headers: [.origin: "http://evil.example:8080"]
            ) { response in
                #expect(response.status == .forbidden, "reads too: the page would see the answer")
            }
            #expect(try await Self.total(client) == 0, "nothing was started")
            // The dashboard's own POST: same origin as the host it was sent to.
            try await client.execute(
                uri: start, method: .post, headers: [.contentType: "application/json", .origin: "http://localhost"],
                body: Self.order("x3")
            ) { response in
                #expect(response.status == .created, "a same-origin POST goes through")
            }
        }
    }

    @Test("bad input gets a clear error with a stable code, and writes nothing")
    func badInput() async throws {
        try await Self.withAPI { client, _ in
            let sagaId = try await Self.start(client, key: "b1")
            let refusals: [(String, HTTPRequest.Method, ByteBuffer?, HTTPResponse.Status, String)] = [
                ("/api/v1/sagas?status=bogus", .get, nil, .badRequest, "invalid_request"),
                ("/api/v1/sagas?limit=0", .get, nil, .badRequest, "invalid_request"),
                ("/api/v1/sagas?limit=lots", .get, nil, .badRequest, "invalid_request"),
                ("/api/v1/sagas?cursor=not-a-cursor", .get, nil, .badRequest, "invalid_request"),
                ("/api/v1/sagas?stuck=maybe", .get, nil, .badRequest, "invalid_request"),
                ("/api/v1/sagas?stuck=true&stuckAfter=-5", .get, nil, .badRequest, "invalid_request"),
                ("/api/v1/sagas/no-such-saga", .get, nil, .notFound, "not_found"),
                ("/api/v1/sagas/no-such-saga/events", .get, nil, .notFound, "not_found"),
                ("/api/v1/sagas/\(sagaId)/events?after=-1", .get, nil, .badRequest, "invalid_request"),
                ("/api/v1/definitions/NoSuchSaga", .get, nil, .notFound, "not_found"),
                ("/api/v1/sagas/NoSuchSaga", .post, Self.order("x"), .notFound, "not_found"),
                (
                    "/api/v1/sagas/PlaceOrder?messageType=com.example.Nope", .post, Self.order("x"),
                    .badRequest, "invalid_request"
                ),
                ("/api/v1/sagas/PlaceOrder", .post, Self.order("x"), .badRequest, "invalid_request"),  // two start types
                (
                    "/api/v1/sagas/PlaceOrder?messageType=com.example.orders.PlaceOrder", .post,
                    ByteBuffer(string: "{not json"),
                    .badRequest, "invalid_request"
                ),
                (
                    "/api/v1/sagas/PlaceOrder?messageType=com.example.orders.PlaceOrder", .post,
                    ByteBuffer(string: #"{"orderId":7}"#),
                    .unprocessableContent, "invalid_request"
                ),
                ("/api/v1/sagas/\(sagaId)/explode", .post, nil, .notFound, "not_found"),
                ("/api/v1/sagas/no-such-saga/retry", .post, nil, .notFound, "not_found"),
                (
                    "/api/v1/sagas/\(sagaId)/skip", .post, ByteBuffer(string: "[1,2]"), .badRequest,
                    "invalid_request"
                ),
            ]
            for (uri, method, body, status, expectedCode) in refusals {
                try await client.execute(uri: uri, method: method, headers: Self.jsonHeaders, body: body) { response in
                    #expect(response.status == status, "\(method) \(uri)")
                    #expect(response.headers[.contentType] == "application/json", "\(method) \(uri)")
                    let actualCode = try Self.errorCode(response)
                    #expect(actualCode == expectedCode, "\(method) \(uri)")
                }
            }
            #expect(try await Self.total(client) == 1, "no refused start wrote a saga")
            try await client.execute(uri: "/api/v1/sagas/\(sagaId)/events", method: .get) { response in
                let events = try Self.object(response.body)["events"] as? [Any]
                #expect(events?.count == 2, "no refused action wrote an event")
            }
        }
    }

    @Test("with tokens, viewers read, operators act under their name, and everyone else is refused")
    func tokens() async throws {
        let access = try AdminAccess(
            viewers: "grafana:viewer-token-1", operators: "alice:operator-token-1")
        try await Self.withAPI(access: access) { client, _ in
            try await client.execute(uri: "/api/v1/sagas", method: .get) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate] == #"Bearer realm="skald""#)
                let code = try Self.errorCode(response)
                #expect(code == "unauthorized")
            }
            try await client.execute(
                uri: "/api/v1/sagas", method: .get, headers: [.authorization: "Bearer wrong-token-9"]
            ) { response in
                #expect(response.status == .unauthorized)
            }
            let viewer: HTTPFields = [.authorization: "Bearer viewer-token-1", .contentType: "application/json"]
            let operatorHeaders: HTTPFields = [.authorization: "Bearer operator-token-1", .contentType: "application/json"]
            try await client.execute(uri: "/api/v1/sagas", method: .get, headers: viewer) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(
                uri: "/api/v1/sagas/PlaceOrder?messageType=com.example.orders.PlaceOrder", method: .post,
                headers: viewer,
                body: Self.order("t1")
            ) { response in
                #expect(response.status == .forbidden)
                let code = try Self.errorCode(response)
                #expect(code == "forbidden")
            }
            #expect(try await Self.total(client, headers: viewer) == 0)
            let sagaId = try await Self.start(client, key: "t2", headers: operatorHeaders)
            for action in ["abort", "retry", "skip"] {
                try await client.execute(
                    uri: "/api/v1/sagas/\(sagaId)/\(action)", method: .post, headers: viewer,
                    body: ByteBuffer(string: #"{"reason":"a viewer tries"}"#)
                ) { response in
                    #expect(response.status == .forbidden, "a viewer's \(action)")
                }
            }
            try await client.execute(
                uri: "/api/v1/sagas/\(sagaId)/abort", method: .post, headers: operatorHeaders,
                body: ByteBuffer(string: #"{"reason":"test"}"#)
            ) { response in
                let saga = try #require(try Self.object(response.body)["saga"] as? JSON)
                #expect((saga["audit"] as? [JSON])?.first?["actor"] as? String == "alice")
            }
            // Probes and scrapes never need a token.
            try await client.execute(uri: "/health", method: .get) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/", method: .get) { response in #expect(response.status == .ok)
            }
        }
    }

    private static func total(_ client: any TestClientProtocol, headers: HTTPFields) async throws
        -> Int
    {
        try await client.execute(uri: "/api/v1/stats", method: .get, headers: headers) { response in
            let counts = try #require(try object(response.body)["counts"] as? [JSON])
            return counts.compactMap { $0["count"] as? Int }.reduce(0, +)
        }
    }

    @Test("the definitions list each step with its kind and command topic, and what starts the saga")
    func definitions() async throws {
        try await Self.withAPI { client, _ in
            try await client.execute(uri: "/api/v1/definitions/PlaceOrder", method: .get) { response in
                #expect(response.status == .ok)
                let definitions = try #require(try Self.object(response.body)["definitions"] as? [JSON])
                let definition = try #require(definitions.first)
                #expect(definition["version"] as? Int == 1)
                let steps = try #require(definition["steps"] as? [JSON])
                #expect(
                    steps.map { $0["kind"] as? String } == [
                        "compensatable", "compensatable", "compensatable", "pivot", "retriable",
                    ])
                #expect(steps.first?["commandTopic"] as? String == "orders.commands")
                let starts = (definition["subscriptions"] as? [JSON] ?? []).filter {
                    $0["role"] as? String == "start"
                }
                #expect(
                    Set(starts.compactMap { $0["messageType"] as? String })
                        == ["com.example.orders.PlaceOrder", "com.example.orders.OrderCreated"])
            }
        }
    }

    @Test("projections: listed with their progress; an operator rebuilds one, a viewer may not, an unknown one is 404")
    func projections() async throws {
        let access = try AdminAccess(viewers: "grafana:viewer-token-1", operators: "alice:operator-token-1")
        try await Self.withAPI(access: access) { client, orchestrator in
            let viewer: HTTPFields = [.authorization: "Bearer viewer-token-1", .contentType: "application/json"]
            let operatorHeaders: HTTPFields = [.authorization: "Bearer operator-token-1", .contentType: "application/json"]
            _ = try await Self.start(client, key: "p1", headers: operatorHeaders)
            try await client.execute(uri: "/api/v1/projections", method: .get, headers: viewer) { response in
                #expect(response.status == .ok)
                let listed = try #require(try Self.object(response.body)["projections"] as? [JSON])
                #expect(listed.map { $0["name"] as? String } == ["order-board"])
                #expect(listed.first?["sagaTypes"] as? [String] == ["PlaceOrder"])
                #expect(listed.first?["running"] as? Bool == false, "the orchestrator is not running here")
            }
            try await client.execute(uri: "/api/v1/projections/nope", method: .get, headers: viewer) { response in
                #expect(response.status == .notFound)
                let code = try Self.errorCode(response)
                #expect(code == "not_found")
            }
            try await client.execute(uri: "/api/v1/projections/order-board/rebuild", method: .post, headers: viewer) { response in
                #expect(response.status == .forbidden)
            }
            try await client.execute(uri: "/api/v1/projections/nope/rebuild", method: .post, headers: operatorHeaders) { response in
                #expect(response.status == .notFound)
            }
            try await client.execute(uri: "/api/v1/projections/order-board/rebuild", method: .post, headers: operatorHeaders) {
                response in
                #expect(response.status == .accepted)
                #expect(response.headers[.location] == "/api/v1/projections/order-board")
                let projection = try #require(try Self.object(response.body)["projection"] as? JSON)
                let rebuild = try #require(projection["rebuild"] as? JSON)
                // The status as of the answer: a rebuild of one saga may be over by then.
                #expect(["running", "succeeded"].contains(rebuild["state"] as? String), "\(rebuild)")
            }
            await orchestrator.projections.waitForRebuilds()
            let events = try await TestPostgres.count(
                orchestrator.configuration.postgresURL, "SELECT count(*)::bigint FROM saga_events")
            try await client.execute(uri: "/api/v1/projections/order-board", method: .get, headers: viewer) { response in
                #expect(response.status == .ok)
                let projection = try Self.object(response.body)
                let rebuild = try #require(projection["rebuild"] as? JSON)
                #expect(rebuild["state"] as? String == "succeeded")
                #expect(rebuild["sagas"] as? Int == 1)
                #expect(projection["eventsApplied"] as? Int == events)
                #expect(projection["rebuiltAt"] is String)
            }
            let rows = try await TestPostgres.strings(
                orchestrator.configuration.postgresURL, "SELECT order_id || ' ' || status FROM order_board")
            #expect(rows == ["order-p1 running"])
        }
    }

    @Test("dead letters: listed newest first with why, one in full, redriven once by an operator")
    func deadLetters() async throws {
        let access = try AdminAccess(viewers: "grafana:viewer-token-1", operators: "alice:operator-token-1")
        try await Self.withAPI(access: access) { client, orchestrator in
            let viewer: HTTPFields = [.authorization: "Bearer viewer-token-1", .contentType: "application/json"]
            let operatorHeaders: HTTPFields = [.authorization: "Bearer operator-token-1", .contentType: "application/json"]
            let connection = try await PostgresConnection.connect(to: orchestrator.configuration.postgresURL)
            for offset in 0..<3 {
                _ = try await connection.execute(
                    """
                    INSERT INTO dead_letters (source_topic, source_partition, source_offset, reason, message_key, payload, headers,
                                              message_id, message_type, saga_id)
                    VALUES ('skald.replies', 0, \(offset), \("no saga has the id ghost-\(offset)"), convert_to('k', 'UTF8'),
                            convert_to('{"transferId":"g"}', 'UTF8'), \("[[\"ce_id\",\"m-\(offset)\"],[\"skald_dlq_reason\",\"x\"]]")::json,
                            \("m-\(offset)"), 'test.Debited', \("ghost-\(offset)"))
                    """)
            }
            await connection.close()
            try await client.execute(uri: "/api/v1/dead-letters?limit=2", method: .get, headers: viewer) { response in
                #expect(response.status == .ok)
                let body = try Self.object(response.body)
                let letters = try #require(body["deadLetters"] as? [JSON])
                #expect(letters.map { $0["messageId"] as? String } == ["m-2", "m-1"])
                #expect(body["pending"] as? Int == 3)
                #expect(letters.first?["payload"] == nil, "bodies only for one dead letter")
                let cursor = try #require(body["nextCursor"] as? String)
                try await client.execute(uri: "/api/v1/dead-letters?limit=2&cursor=\(cursor)", method: .get, headers: viewer) { next in
                    let rest = try #require(try Self.object(next.body)["deadLetters"] as? [JSON])
                    #expect(rest.map { $0["messageId"] as? String } == ["m-0"])
                }
            }
            try await client.execute(uri: "/api/v1/dead-letters?sagaId=ghost-1", method: .get, headers: viewer) { response in
                let letters = try #require(try Self.object(response.body)["deadLetters"] as? [JSON])
                #expect(letters.count == 1)
            }
            try await client.execute(uri: "/api/v1/dead-letters?cursor=nope", method: .get, headers: viewer) { response in
                #expect(response.status == .badRequest)
            }
            let first = try await orchestrator.deadLetters.list(limit: 1).first?.id ?? 0
            try await client.execute(uri: "/api/v1/dead-letters/\(first)", method: .get, headers: viewer) { response in
                #expect(response.status == .ok)
                let letter = try Self.object(response.body)
                #expect(letter["payload"] as? String == #"{"transferId":"g"}"#)
                #expect(letter["key"] as? String == "k")
                #expect((letter["headers"] as? [JSON])?.first?["value"] as? String == "m-2")
            }
            try await client.execute(uri: "/api/v1/dead-letters/999999", method: .get, headers: viewer) { response in
                #expect(response.status == .notFound)
            }
            try await client.execute(uri: "/api/v1/dead-letters/\(first)/redrive", method: .post, headers: viewer) { response in
                #expect(response.status == .forbidden)
            }
            try await client.execute(uri: "/api/v1/dead-letters/\(first)/redrive", method: .post, headers: operatorHeaders) { response in
                #expect(response.status == .ok)
                let letter = try Self.object(response.body)
                #expect(letter["redrivenBy"] as? String == "alice")
                #expect(letter["redrivenAt"] is String)
            }
            try await client.execute(uri: "/api/v1/dead-letters/\(first)/redrive", method: .post, headers: operatorHeaders) { response in
                #expect(response.status == .conflict)
            }
            try await client.execute(uri: "/api/v1/dead-letters?pending=true", method: .get, headers: viewer) { response in
                let body = try Self.object(response.body)
                #expect((body["deadLetters"] as? [JSON])?.count == 2 && body["pending"] as? Int == 2)
            }
        }
    }

    @Test("every operation in schemas/openapi/admin.json is served, and answers with a status it documents")
    func openAPIDocument() async throws {
        let file = TestPostgres.repositoryRoot.appendingPathComponent("schemas/openapi/admin.json")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? JSON)
        let paths = try #require(document["paths"] as? [String: JSON])
        let operations: [(path: String, method: String, statuses: Set<String>)] = paths.sorted { $0.key < $1.key }.flatMap { path, methods in
            methods.map { method, operation in
                (path, method, Set(((operation as? JSON)?["responses"] as? JSON)?.keys.map { $0 } ?? []))
            }
        }
        try await Self.withAPI { client, _ in
            let sagaId = try await Self.start(client, key: "o1")
            for (path, method, documented) in operations {
                let isStart = method == "post" && path == "/api/v1/sagas/{id}"
                let uri =
                    path.replacingOccurrences(of: "{id}", with: isStart ? "PlaceOrder" : sagaId)
                    .replacingOccurrences(of: "{type}", with: "PlaceOrder").replacingOccurrences(of: "{action}", with: "retry")
                    .replacingOccurrences(of: "{name}", with: "order-board")
                    + (isStart ? "?messageType=com.example.orders.PlaceOrder" : "")
                let httpMethod: HTTPRequest.Method = method == "post" ? .post : .get
                let body = isStart ? Self.order("o2") : nil
                try await client.execute(uri: uri, method: httpMethod, headers: Self.jsonHeaders, body: body) { response in
                    #expect(documented.contains(String(response.status.code)), "\(method) \(uri): \(response.status) is not documented")
                    // The router's own 404 (no such route) has no JSON body; the API's has one.
                    #expect(
                        response.status != .notFound || response.headers[.contentType] == "application/json",
                        "\(method) \(uri) is not served")
                }
            }
        }
        #expect(operations.count == 19)
    }

    @Test("the dashboard is one page that reads the API")
    func dashboard() async throws {
        try await Self.withAPI { client, _ in
            try await client.execute(uri: "/", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/html; charset=utf-8")
                let page = String(buffer: response.body)
                #expect(page.contains(#"<script src="/dashboard.js"></script>"#))
                #expect(!page.contains("<script>"), "no inline script: the policy allows none")
                let policy = try #require(response.headers[.contentSecurityPolicy])
                #expect(policy.contains("script-src 'self'") && !policy.contains("unsafe-inline"))
                #expect(policy.contains("frame-ancestors 'none'"))
            }
            try await client.execute(uri: "/dashboard.js", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/javascript; charset=utf-8")
                let script = String(buffer: response.body)
                #expect(script.contains("/api/v1/sagas") && script.contains("/api/v1/stats") && script.contains("/api/v1/projections"))
                #expect(!script.contains("innerHTML"), "store text goes in as text")
            }
            try await client.execute(uri: "/dashboard.css", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/css; charset=utf-8")
            }
        }
        // Without an API, only the operational endpoints exist.
        let bare = AdminServer(
            configuration: AdminConfiguration(port: 0), registry: PrometheusCollectorRegistry(),
            checks: [])
        try await bare.application().test(.router) { client in
            try await client.execute(uri: "/", method: .get) { response in
                #expect(response.status == .notFound)
            }
            try await client.execute(uri: "/api/v1/sagas", method: .get) { response in
                #expect(response.status == .notFound)
            }
        }
    }
}

/// Token lists and list cursors: pure, no store.
@Suite("Admin HTTP: tokens and cursors")
struct AdminAccessTests {
    @Test(
        "token lists are name:token pairs; malformed, short or repeated tokens are refused without echoing them"
    )
    func parsing() throws {
        let access = try AdminAccess(
            viewers: "grafana:aaaaaaaa1", operators: " alice:bbbbbbbb2 , bob:cccccccc3")
        #expect(access.tokens["aaaaaaaa1"] == AdminAccess.Principal(name: "grafana", role: .viewer))
        #expect(access.tokens["bbbbbbbb2"] == AdminAccess.Principal(name: "alice", role: .operator))
        #expect(access.tokens.count == 3)
        #expect(try AdminAccess(viewers: "", operators: "").isOpen)
        for (viewers, operators) in [
            ("justatokenvalue", ""), ("grafana:short", ""), ("a:dddddddd4", "b:dddddddd4"),
            (":eeeeeeee5", ""),
        ] {
            #expect(throws: AdminAccessError.self) {
                try AdminAccess(viewers: viewers, operators: operators)
            }
            do {
                _ = try AdminAccess(viewers: viewers, operators: operators)
            } catch {
                #expect(
                    !error.description.contains("dddddddd4") && !error.description.contains("justatokenvalue")
                )
            }
        }
    }

    @Test("loopback means localhost, ::1 or an address in 127/8, not a name that starts like one")
    func loopbackNames() {
        for host in ["localhost", "LOCALHOST", "::1", "127.0.0.1", "127.1.2.3", "127.255.255.255"] {
            #expect(AdminConfiguration.isLoopback(host), "\(host)")
        }
        for host in ["127.0.0.1.evil.example", "127.0.0.256", "127.0.0", "128.0.0.1", "evil", "", "127.0.0.1 ", "127.0.0.01a"] {
            #expect(!AdminConfiguration.isLoopback(host), "\(host)")
        }
    }

    @Test("Host and Origin: same origin and loopback hosts pass; rebinding names and other sites do not")
    func crossSiteRules() {
        func refused(_ host: String?, _ origin: String?, loopback: Bool = true, allowed: Set<String> = []) -> Bool {
            AdminServer.crossSiteRefusal(host: host, origin: origin, loopbackOnly: loopback, allowedHosts: allowed) != nil
        }
        // What browsers and curl send to a server on loopback.
        for host in ["127.0.0.1:8080", "localhost:8080", "[::1]:8080", "127.0.0.1"] {
            #expect(!refused(host, nil), "\(host)")
            #expect(!refused(host, "http://\(host)"), "same origin at \(host)")
        }
        #expect(refused("127.0.0.1.evil.example:8080", nil), "a rebinding name")
        #expect(refused("127.0.0.1.evil.example:8080", "http://127.0.0.1.evil.example:8080"), "a rebinding page, same origin")
        #expect(refused("evil:8080", nil))
        #expect(refused("127.0.0.1:8080", "http://evil.example"), "another site")
        #expect(refused("127.0.0.1:8080", "http://127.0.0.1:9999"), "another port is another origin")
        #expect(!refused("127.0.0.1:8080", "null"), "a sandboxed or file page sends null; the token and JSON rules still apply")
        // Behind a proxy: its public name, allowed, whether it keeps Host or rewrites it.
        #expect(!refused("skald.example.com", "https://skald.example.com", allowed: ["skald.example.com"]))
        #expect(!refused("127.0.0.1:8080", "https://skald.example.com", allowed: ["skald.example.com"]))
        #expect(refused("skald.example.com", nil), "not allowed unless configured")
        // Bound to every interface: any host, still same origin only.
        #expect(!refused("10.0.0.5:8080", nil, loopback: false))
        #expect(refused("10.0.0.5:8080", "http://evil.example", loopback: false))
    }

    @Test("a cursor survives its token for any saga id, and anything else is not a cursor")
    func cursorTokens() {
        var random = SplitMix64(seed: 0x5EED)
        let alphabet = Array("abcXYZ019-_/:+= ésø")
        for _ in 0..<500 {
            let micros = Int64(bitPattern: random.next()) % 4_000_000_000_000_000
            let id = String(
                (0..<Int(random.next() % 40 + 1)).map { _ in
                    alphabet[Int(random.next() % UInt64(alphabet.count))]
                })
            let cursor = SagaListCursor(createdAtMicros: micros, sagaId: id)
            #expect(SagaListCursor(token: cursor.token) == cursor)
            #expect(
                !cursor.token.contains("/") && !cursor.token.contains("+") && !cursor.token.contains("="))
        }
        for garbage in ["", "!!!", "bm9jb2xvbg", "MTIzOg"] {  // "", not base64, "nocolon", "123:"
            #expect(SagaListCursor(token: garbage) == nil)
        }
    }
}
