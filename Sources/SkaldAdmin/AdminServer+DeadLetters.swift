import Hummingbird
import Logging
import SkaldRuntime

extension AdminServer {
    /// The dead-letter routes: messages the pump could not parse or route, with why, and a
    /// redrive once what refused them is fixed.
    static func addDeadLetterRoutes(to router: Router<BasicRequestContext>, api: AdminAPI, logger: Logger) {
        let v1 = router.group("api/v1")
        let store = api.orchestrator.deadLetters
        v1.get("dead-letters") { request, _ -> Response in
            _ = try Self.admit(request, as: .viewer, api: api)
            let query = try Self.parameters(of: request)
            let limit = try Self.integer(query["limit"], named: "limit", in: 1...1000, default: 50)
            let before = try query["cursor"].map { text -> Int64 in
                guard let id = Int64(text), id > 0 else { throw AdminAPIError.invalid("cursor '\(text)' is not a cursor this API gave") }
                return id
            }
            let sagaId = query["sagaId"].flatMap { $0.isEmpty ? nil : $0 }
            let pendingOnly: Bool
            switch query["pending"]?.lowercased() {
            case nil, "false", "0": pendingOnly = false
            case "true", "1": pendingOnly = true
            case let other?: throw AdminAPIError.invalid("pending must be true or false, not '\(other)'")
            }
            let (letters, pending) = try await Self.reading(logger) {
                (try await store.list(limit: limit, before: before, sagaId: sagaId, pendingOnly: pendingOnly), try await store.pendingCount())
            }
            let next = letters.count == limit ? letters.last.map { String($0.id) } : nil
            return Self.json(.ok, DeadLetterListResponse(deadLetters: letters, pending: pending, nextCursor: next))
        }
        v1.get("dead-letters/:id") { request, context -> Response in
            _ = try Self.admit(request, as: .viewer, api: api)
            let id = try Self.deadLetterId(context)
            guard let letter = try await Self.reading(logger, { try await store.deadLetter(id: id) }) else {
                throw AdminAPIError.notFound("no dead letter with id \(id)")
            }
            return Self.json(.ok, letter)
        }
        v1.post("dead-letters/:id/redrive") { request, context -> Response in
            let principal = try Self.admit(request, as: .operator, api: api)
            let id = try Self.deadLetterId(context)
            let outcome: DeadLetterRedrive
            do {
                outcome = try await api.orchestrator.redriveDeadLetter(id: id, by: principal.name)
            } catch {
                logger.error("a dead letter could not be redriven", metadata: ["dead_letter": "\(id)", "error": "\(error)"])
                throw AdminAPIError(
                    .serviceUnavailable, .unavailable, "the dead letter could not be published again (the server log says why)")
            }
            switch outcome {
            case .redriven(let letter):
                return Self.json(.ok, letter)
            case .notFound:
                throw AdminAPIError.notFound("no dead letter with id \(id)")
            case .alreadyRedriven(let letter):
                throw AdminAPIError(
                    .conflict, .conflict,
                    "dead letter \(id) was redriven already by \(letter.redrivenBy ?? "someone"); if it failed again, it is a new dead letter")
            }
        }
    }

    private static func deadLetterId(_ context: BasicRequestContext) throws -> Int64 {
        let text = try Self.pathParameter("id", of: context)
        guard let id = Int64(text), id > 0 else { throw AdminAPIError.notFound("no dead letter with id '\(text)'") }
        return id
    }
}

/// `GET /api/v1/dead-letters`.
struct DeadLetterListResponse: Encodable {
    var deadLetters: [DeadLetterView]
    /// Dead letters not redriven yet, in the whole store.
    var pending: Int
    var nextCursor: String?
}
