import Foundation
public import Hummingbird

/// A request the admin API refuses: an HTTP status, a stable code and a message for people.
///
/// The body is `{"error":{"code":"…","message":"…"}}`, whatever the route, so scripts can
/// match on `code` and people read `message`.
public struct AdminAPIError: HTTPResponseError, Sendable, Equatable, CustomStringConvertible {
    /// The stable codes.
    public enum Code: String, Sendable {
        /// A query parameter, path segment or body that cannot be used; the message says which.
        case invalidRequest = "invalid_request"
        /// No credentials, or credentials no one was given.
        case unauthorized
        /// Credentials whose role may not do this (a viewer asking for an operator action).
        case forbidden
        /// No saga, saga type or definition by that name.
        case notFound = "not_found"
        /// The saga cannot take this action in the state it is in.
        case conflict
        /// The store could not be read or written just now.
        case unavailable
    }

    /// The HTTP status.
    public var status: HTTPResponse.Status
    /// The stable code.
    public var code: Code
    /// What went wrong, for people.
    public var message: String

    /// An error with an explicit status.
    public init(_ status: HTTPResponse.Status, _ code: Code, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    /// 400: the request cannot be used.
    public static func invalid(_ message: String) -> AdminAPIError { AdminAPIError(.badRequest, .invalidRequest, message) }
    /// 404: nothing by that name.
    public static func notFound(_ message: String) -> AdminAPIError { AdminAPIError(.notFound, .notFound, message) }

    /// `<status> <code>: <message>`
    public var description: String { "\(status.code) \(code.rawValue): \(message)" }

    /// The JSON error body.
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer realm=\"skald\"" }
        let body = ["error": ["code": code.rawValue, "message": message]]
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let bytes = (try? encoder.encode(body)) ?? Data()
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
