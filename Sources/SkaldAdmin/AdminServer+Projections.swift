import Hummingbird
import Logging
import SkaldRuntime

extension AdminServer {
    /// The projection routes (DESIGN.md, "Admin HTTP"): the read models this process keeps up
    /// to date, how far they are, and rebuilds.
    static func addProjectionRoutes(to router: Router<BasicRequestContext>, api: AdminAPI, logger: Logger) {
        let v1 = router.group("api/v1")
        let projections = api.orchestrator.projections
        v1.get("projections") { request, _ -> Response in
            _ = try Self.admit(request, as: .viewer, api: api)
            let statuses = try await Self.reading(logger) { try await projections.statuses() }
            return Self.json(.ok, ProjectionListResponse(projections: statuses))
        }
        v1.get("projections/:name") { request, context -> Response in
            _ = try Self.admit(request, as: .viewer, api: api)
            let name = try Self.pathParameter("name", of: context)
            guard let status = try await Self.reading(logger, { try await projections.status(named: name) }) else {
                throw AdminAPIError.notFound("no projection named '\(name)' runs here")
            }
            return Self.json(.ok, status)
        }
        v1.post("projections/:name/rebuild") { request, context -> Response in
            let principal = try Self.admit(request, as: .operator, api: api)
            let name = try Self.pathParameter("name", of: context)
            do {
                try projections.startRebuild(named: name)
            } catch let refusal as ProjectionRebuildRefusal {
                switch refusal {
                case .unknown: throw AdminAPIError.notFound(refusal.description)
                case .alreadyRunning: throw AdminAPIError(.conflict, .conflict, refusal.description)
                }
            }
            logger.notice("projection rebuild requested over the admin API", metadata: ["projection": "\(name)", "actor": "\(principal.name)"])
            let status = try? await projections.status(named: name)
            var response = Self.json(.accepted, ProjectionRebuildResponse(projection: status))
            response.headers[.location] = "/api/v1/projections/" + Self.percentEncoded(name)
            return response
        }
    }
}

/// `GET /api/v1/projections`.
struct ProjectionListResponse: Encodable {
    var projections: [ProjectionStatus]
}

/// `POST /api/v1/projections/{name}/rebuild`: the rebuild runs on; its state is in `projection.rebuild`.
struct ProjectionRebuildResponse: Encodable {
    var projection: ProjectionStatus?
}
