import Foundation
import Hummingbird
import Logging
import Skald
import SkaldRuntime

extension AdminServer {
    /// The saga API (DESIGN.md, "Admin HTTP"): definitions, listings and searches, one saga,
    /// its timeline, counts; starting sagas and operator actions. JSON in and out; errors are
    /// ``AdminAPIError`` bodies.
    static func addAPIRoutes(to router: Router<BasicRequestContext>, api: AdminAPI, logger: Logger) {
        let v1 = router.group("api/v1")
        v1.get("definitions") { request, _ -> Response in
            _ = try Self.admit(request, as: .viewer, api: api)
            return Self.json(.ok, ["definitions": api.orchestrator.registry.all.map(DefinitionView.init)])
        }
        v1.get("definitions/:type") { request, context -> Response in
            _ = try Self.admit(request, as: .viewer, api: api)
            let type = try Self.pathParameter("type", of: context)
            let versions = api.orchestrator.registry.all.filter { $0.name == type }.sorted { $0.version > $1.version }
            guard !versions.isEmpty else { throw AdminAPIError.notFound("no saga type named '\(type)' is registered") }
            return Self.json(.ok, ["definitions": versions.map(DefinitionView.init)])
        }
        let stats = StatsCache(maxAge: api.statsMaxAge)
        v1.get("stats") { request, _ -> Response in
            _ = try Self.admit(request, as: .viewer, api: api)
            let answer = try await Self.reading(logger) {
                try await stats.value {
                    StatsResponse(
                        counts: try await api.queries.counts(), stuck: try await api.queries.countStuck(quietFor: api.stuckAfter),
                        stuckAfterSeconds: Int(api.stuckAfter.components.seconds))
                }
            }
            return Self.json(.ok, answer)
        }
        v1.get("sagas") { request, _ -> Response in
            _ = try Self.admit(request, as: .viewer, api: api)
            let listing = try SagaListRequest(try Self.parameters(of: request), stuckAfter: api.stuckAfter)
            let page = try await Self.reading(logger) { try await api.queries.list(listing.filter, limit: listing.limit, after: listing.cursor) }
            return Self.json(.ok, SagaListResponse(sagas: page.sagas, nextCursor: page.next?.token))
        }
        v1.get("sagas/:id") { request, context -> Response in
            _ = try Self.admit(request, as: .viewer, api: api)
            let sagaId = try Self.pathParameter("id", of: context)
            guard let saga = try await Self.reading(logger, { try await api.queries.saga(id: sagaId) }) else {
                throw AdminAPIError.notFound("no saga with id '\(sagaId)'")
            }
            return Self.json(.ok, saga)
        }
        v1.get("sagas/:id/events") { request, context -> Response in
            _ = try Self.admit(request, as: .viewer, api: api)
            let sagaId = try Self.pathParameter("id", of: context)
            let query = try Self.parameters(of: request)
            let after = try Self.integer(query["after"], named: "after", in: 0...Int(Int32.max), default: 0)
            let limit = try Self.integer(query["limit"], named: "limit", in: 1...1000, default: 1000)
            guard let events = try await Self.reading(logger, { try await api.queries.events(sagaId: sagaId, after: after, limit: limit) })
            else { throw AdminAPIError.notFound("no saga with id '\(sagaId)'") }
            return Self.json(.ok, TimelineResponse(sagaId: sagaId, events: events))
        }
        v1.get("sagas/:id/replay") { request, context -> Response in
            _ = try Self.admit(request, as: .viewer, api: api)
            let sagaId = try Self.pathParameter("id", of: context)
            let target: StoreReplay.Target = try Self.parameters(of: request)["against"] == "latest" ? .latestVersion : .recordedVersion
            let replay = StoreReplay(pool: api.orchestrator.pool, registry: api.orchestrator.registry)
            let summary = try await Self.reading(logger) { try await replay.run(sagaIds: [sagaId], target: target) }
            guard summary.checked == 1 else { throw AdminAPIError.notFound("no saga with id '\(sagaId)'") }
            return Self.json(.ok, ReplayResponse(summary.findings.first, sagaId: sagaId, definitions: summary.byDefinition))
        }
        // The router wants one parameter name per position: `:id` here is the saga type.
        v1.post("sagas/:id") { request, context -> Response in
            let principal = try Self.admit(request, as: .operator, api: api)
            return try await Self.start(request, type: try Self.pathParameter("id", of: context), by: principal, api: api, logger: logger)
        }
        v1.post("sagas/:id/:action") { request, context -> Response in
            let principal = try Self.admit(request, as: .operator, api: api)
            return try await Self.operate(
                request, sagaId: try Self.pathParameter("id", of: context), action: try Self.pathParameter("action", of: context),
                by: principal, api: api, logger: logger)
        }
    }

    /// `POST /api/v1/sagas/{type}`: the body is the start message's JSON payload.
    static func start(
        _ request: Request, type: String, by principal: AdminAccess.Principal, api: AdminAPI, logger: Logger
    ) async throws -> Response {
        guard let definition = try? api.orchestrator.registry.latest(name: type) else {
            throw AdminAPIError.notFound("no saga type named '\(type)' is registered")
        }
        let starts = definition.subscriptions.filter { $0.role == .start }.map(\.messageType)
        let asked = try Self.parameters(of: request)["messageType"] ?? request.headers[Self.ceType]
        let messageType: String
        if let asked {
            guard starts.contains(asked) else {
                throw AdminAPIError.invalid("\(type) is not started by '\(asked)'; it is started by \(starts.joined(separator: ", "))")
            }
            messageType = asked
        } else {
            guard starts.count == 1, let only = starts.first else {
                throw AdminAPIError.invalid(
                    "\(type) is started by several message types (\(starts.joined(separator: ", "))): name one with ?messageType=")
            }
            messageType = only
        }
        var request = request
        let body = try await Self.body(of: &request)
        guard (try? JSONSerialization.jsonObject(with: Data(body))) is [String: Any] else {
            throw AdminAPIError.invalid("the body must be a JSON object: the payload of \(messageType)")
        }
        let key = request.headers[Self.idempotencyKey]
        if let key, key.isEmpty || key.count > 200 {
            throw AdminAPIError.invalid("Idempotency-Key must be 1 to 200 characters")
        }
        let sagaId: String
        do {
            sagaId = try await api.orchestrator.start(
                type, messageType: messageType, payload: body, idempotencyKey: key, traceparent: request.headers[Self.traceparent])
        } catch let error as SagaRuntimeError {
            // The definition refused the payload (it does not decode as the start message).
            throw AdminAPIError(.unprocessableContent, .invalidRequest, error.message)
        } catch {
            logger.error("a saga could not be started over the admin API", metadata: ["saga_type": "\(type)", "error": "\(error)"])
            throw AdminAPIError(.serviceUnavailable, .unavailable, "the saga could not be started (the server log says why)")
        }
        logger.info(
            "saga started over the admin API", metadata: ["saga_id": "\(sagaId)", "saga_type": "\(type)", "actor": "\(principal.name)"])
        // It started: a failed read now must not turn that into an error a client would retry.
        let saga = try? await api.queries.saga(id: sagaId)
        var response = Self.json(.created, StartResponse(sagaId: sagaId, saga: saga))
        response.headers[.location] = "/api/v1/sagas/" + Self.percentEncoded(sagaId)
        return response
    }

    /// `POST /api/v1/sagas/{id}/abort|retry|skip`, audited under the caller's name.
    static func operate(
        _ request: Request, sagaId: String, action: String, by principal: AdminAccess.Principal, api: AdminAPI, logger: Logger
    ) async throws -> Response {
        guard let operatorAction = SagaEvent.OperatorAction(rawValue: action) else {
            throw AdminAPIError.notFound("no action '\(action)': use abort, retry or skip")
        }
        var request = request
        let body = try await Self.body(of: &request)
        let arguments: OperatorArguments
        if body.isEmpty {
            arguments = OperatorArguments()
        } else {
            do {
                arguments = try JSONDecoder().decode(OperatorArguments.self, from: Data(body))
            } catch {
                throw AdminAPIError.invalid("the body must be {\"reason\": \"…\", \"step\": \"…\"} (both optional)")
            }
        }
        if operatorAction == .abort, (arguments.reason ?? "").trimmingCharacters(in: .whitespaces).isEmpty {
            throw AdminAPIError.invalid("an abort needs a reason, for the audit log: {\"reason\": \"…\"}")
        }
        let command = OperatorCommand(operatorAction, actor: principal.name, reason: arguments.reason ?? "", step: arguments.step)
        let outcome: SagaWorkOutcome
        do {
            outcome = try await api.orchestrator.operate(sagaId: sagaId, command: command)
        } catch {
            // `operate` applies the action, then writes the audit row: either may have failed.
            logger.error(
                "an operator action failed", metadata: ["saga_id": "\(sagaId)", "action": "\(action)", "error": "\(error)"])
            throw AdminAPIError(
                .serviceUnavailable, .unavailable,
                "the \(action) could not be confirmed: reload the saga to see whether it was applied (the server log says why)")
        }
        switch outcome {
        case .applied, .duplicate:
            let saga = try? await api.queries.saga(id: sagaId)
            return Self.json(.ok, OperateResponse(outcome: Self.isApplied(outcome) ? "applied" : "no change", saga: saga))
        case .unroutable:
            throw AdminAPIError.notFound("no saga with id '\(sagaId)'")
        case .rejected(let reason):
            throw AdminAPIError(.conflict, .conflict, reason)
        }
    }

    private static func isApplied(_ outcome: SagaWorkOutcome) -> Bool {
        if case .applied = outcome { return true }
        return false
    }

    /// The request body, at most 1 MiB.
    static func body(of request: inout Request) async throws -> [UInt8] {
        do {
            let buffer = try await request.collectBody(upTo: 1 << 20)
            return Array(buffer.readableBytesView)
        } catch {
            throw AdminAPIError(.contentTooLarge, .invalidRequest, "the body is larger than 1 MiB")
        }
    }

    /// Runs a store read, turning its failures into 503s; the cause (libpq's message, which
    /// may name hosts and users) goes to the log, not to every viewer.
    static func reading<Value>(_ logger: Logger, _ read: () async throws -> Value) async throws -> Value {
        do {
            return try await read()
        } catch let error as AdminAPIError {
            throw error
        } catch {
            logger.error("the admin API could not read the saga store", metadata: ["error": "\(error)"])
            throw AdminAPIError(.serviceUnavailable, .unavailable, "the saga store could not be read (the server log says why)")
        }
    }

    /// Lets a request through to an API route, as `role`, or says why not.
    ///
    /// Beyond the token: a browser page from another origin must not drive the API of an
    /// operator's local server. A cross-origin `Origin` is refused, a `Host` that is not a
    /// loopback name is refused while the server listens on loopback (DNS rebinding), and a
    /// POST must say `Content-Type: application/json`, which a page can only send after a
    /// CORS preflight this server never grants.
    static func admit(_ request: Request, as role: AdminAccess.Role, api: AdminAPI) throws -> AdminAccess.Principal {
        if let refusal = crossSiteRefusal(
            host: request.head.authority, origin: request.headers[.origin], loopbackOnly: api.loopbackOnly,
            allowedHosts: api.allowedHosts)
        {
            throw AdminAPIError(.forbidden, .forbidden, refusal)
        }
        if request.method == .post {
            let type = request.headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
            guard type == "application/json" else {
                throw AdminAPIError(.unsupportedMediaType, .invalidRequest, "send the body as Content-Type: application/json")
            }
        }
        return try api.access.authorize(request.headers[.authorization], as: role)
    }

    /// Why a request with this `Host` and `Origin` may not reach the API, or nil when it may.
    ///
    /// The origin must be the host the request was sent to (same origin) or an allowed host;
    /// while the server listens on loopback, the host must be a loopback address or an
    /// allowed host.
    static func crossSiteRefusal(host: String?, origin: String?, loopbackOnly: Bool, allowedHosts: Set<String>) -> String? {
        if let origin, origin != "null" {
            let originAuthority = origin.split(separator: "://", maxSplits: 1).last.map(String.init) ?? origin
            let sameOrigin = host.map { originAuthority.lowercased() == $0.lowercased() } ?? false
            guard sameOrigin || allowedHosts.contains(hostName(originAuthority).lowercased()) else {
                return "cross-origin requests are refused (Origin \(origin))"
            }
        }
        if loopbackOnly, let host {
            let name = hostName(host)
            guard AdminConfiguration.isLoopback(name) || allowedHosts.contains(name.lowercased()) else {
                return "this server answers only to loopback host names and skald.admin.allowedHosts, not '\(host)'"
            }
        }
        return nil
    }

    /// `host` without its port: `127.0.0.1:8080` → `127.0.0.1`, `[::1]:8080` → `::1`.
    static func hostName(_ host: String) -> String {
        if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
            return String(host[host.index(after: host.startIndex)..<close])
        }
        return host.split(separator: ":").first.map(String.init) ?? host
    }

    /// A path parameter, percent-decoded (the router leaves path segments as sent).
    static func pathParameter(_ name: String, of context: BasicRequestContext) throws -> String {
        let raw = try context.parameters.require(name)
        guard let decoded = raw.removingPercentEncoding, !decoded.contains("\0") else {
            throw AdminAPIError.invalid("the path segment '\(raw)' is not valid percent-encoding")
        }
        return decoded
    }

    /// `value` as one path segment.
    static func percentEncoded(_ value: String) -> String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "/?#")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
    }

    /// An integer query parameter within `range`.
    static func integer(_ text: String?, named name: String, in range: ClosedRange<Int>, default fallback: Int) throws -> Int {
        guard let text else { return fallback }
        guard let value = Int(text), range.contains(value) else {
            throw AdminAPIError.invalid("\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound), not '\(text)'")
        }
        return value
    }

    static let ceType = HTTPFields.Element.Name("ce-type")!
    static let idempotencyKey = HTTPFields.Element.Name("Idempotency-Key")!
    static let traceparent = HTTPFields.Element.Name("traceparent")!

    /// The query's parameters; the first of a repeated name wins.
    ///
    /// - Throws: ``AdminAPIError`` 400 for a NUL character, which no Postgres text can hold.
    static func parameters(of request: Request) throws -> [String: String] {
        var parameters: [String: String] = [:]
        for (name, value) in request.uri.queryParameters where parameters[String(name)] == nil {
            guard !value.contains("\0") else { throw AdminAPIError.invalid("the parameter '\(name)' holds a NUL character") }
            parameters[String(name)] = String(value)
        }
        return parameters
    }
}

/// `GET /api/v1/sagas` query parameters, checked.
struct SagaListRequest {
    var filter = SagaListFilter()
    var limit = 50
    var cursor: SagaListCursor?

    init(_ query: [String: String], stuckAfter: Duration) throws {
        if let statuses = query["status"], !statuses.isEmpty {
            filter.statuses = try statuses.split(separator: ",").map { name in
                guard let status = SagaStatus(rawValue: String(name)) else {
                    throw AdminAPIError.invalid(
                        "status '\(name)' is not one of \(SagaStatus.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return status
            }
        }
        if let type = query["type"], !type.isEmpty { filter.sagaType = type }
        if let key = query["key"], !key.isEmpty { filter.businessKey = key }
        switch query["stuck"] {
        case nil, "false", "0": break
        case "true", "1":
            filter.stuckFor = stuckAfter
            if let seconds = query["stuckAfter"] {
                guard let value = Double(seconds), value.isFinite, value >= 0, value <= 31_536_000 else {
                    throw AdminAPIError.invalid("stuckAfter must be a number of seconds from 0 to 31536000, not '\(seconds)'")
                }
                filter.stuckFor = .milliseconds(Int64(value * 1000))
            }
        case let other?: throw AdminAPIError.invalid("stuck must be true or false, not '\(other)'")
        }
        limit = try AdminServer.integer(query["limit"], named: "limit", in: 1...1000, default: 50)
        if let token = query["cursor"], !token.isEmpty {
            guard let cursor = SagaListCursor(token: token) else {
                throw AdminAPIError.invalid("cursor '\(token)' is not one this API gave out")
            }
            self.cursor = cursor
        }
    }
}

/// `GET /api/v1/sagas`.
struct SagaListResponse: Encodable {
    var sagas: [SagaSummary]
    /// Pass as `cursor=` for the next page; absent on the last.
    var nextCursor: String?
}

/// `GET /api/v1/stats`.
struct StatsResponse: Encodable, Sendable {
    var counts: [SagaStatusCount]
    /// Sagas waiting for an operator or quiet for `stuckAfterSeconds`.
    var stuck: Int
    var stuckAfterSeconds: Int
}

/// `GET /api/v1/sagas/{id}/events`.
struct TimelineResponse: Encodable {
    var sagaId: String
    var events: [SagaTimelineEntry]
}

/// `GET /api/v1/sagas/{id}/replay`.
struct ReplayResponse: Encodable {
    var sagaId: String
    /// The definition replayed against, `Type vN`; absent when none is registered.
    var definition: String?
    /// `identical`, `diverged`, `snapshot-differs`, `no-definition` or `unreadable`.
    var result: String
    /// What differs, in words; absent when identical.
    var explanation: String?
    /// The first recorded event that does not match, for `diverged`.
    var divergesAt: Int?

    init(_ finding: StoreReplayFinding?, sagaId: String, definitions: [String: Int]) {
        self.sagaId = sagaId
        definition = definitions.keys.first
        explanation = finding?.description
        switch finding?.kind {
        case nil: result = "identical"
        case .diverged(let report)?:
            result = "diverged"
            divergesAt = report.divergence?.sequence
        case .snapshotDiffers?: result = "snapshot-differs"
        case .noDefinition?: result = "no-definition"
        case .unreadable?: result = "unreadable"
        }
    }
}

/// `POST /api/v1/sagas/{type}`.
struct StartResponse: Encodable {
    var sagaId: String
    var saga: SagaDetail?
}

/// `POST /api/v1/sagas/{id}/{action}`.
struct OperateResponse: Encodable {
    var outcome: String
    var saga: SagaDetail?
}

/// The body of an operator action.
struct OperatorArguments: Decodable {
    var reason: String?
    var step: String?
}

/// A registered definition: its steps (with their kinds and command topics) and what starts it.
struct DefinitionView: Encodable {
    struct Step: Encodable {
        var name: String
        var kind: String
        var commandTopic: String?
    }

    struct Subscription: Encodable {
        var topic: String
        var messageType: String
        var role: String
    }

    var name: String
    var version: Int
    var steps: [Step]
    var subscriptions: [Subscription]

    init(_ definition: any RuntimeSagaDefinition) {
        name = definition.name
        version = definition.version
        // A new instance's snapshot lists every step in definition order, with its kind.
        let blank = try? definition.snapshot(of: definition.newInstance(sagaId: "definition"))
        steps = (blank?.steps ?? []).map {
            Step(name: $0.name, kind: $0.kind.rawValue, commandTopic: definition.commandTopic(ofStep: $0.name))
        }
        subscriptions = definition.subscriptions.map {
            Subscription(topic: $0.topic, messageType: $0.messageType, role: $0.role.rawValue)
        }
    }
}
