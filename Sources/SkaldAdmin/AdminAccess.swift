import Foundation

/// Who may use the admin API: bearer tokens, each naming a principal with a role.
///
/// Viewers read (listings, sagas, timelines, definitions, counts); operators also start
/// sagas and abort, retry or skip steps, and their name goes into the audit log. With no
/// tokens configured the API is open and every caller is the operator `anonymous`: the
/// server binds to 127.0.0.1 unless configured, and that is the local, single-user case.
/// `/health`, `/ready` and `/metrics` never ask for a token (probes and scrapers).
public struct AdminAccess: Sendable {
    /// What a principal may do.
    public enum Role: String, Sendable, Hashable, Comparable {
        /// Reads.
        case viewer
        /// Reads, starts sagas, and takes operator actions.
        case `operator`

        /// Operators may do everything viewers may.
        public static func < (lhs: Role, rhs: Role) -> Bool { lhs == .viewer && rhs == .operator }
    }

    /// Someone the API knows.
    public struct Principal: Sendable, Hashable {
        /// The name recorded in the audit log.
        public var name: String
        /// What they may do.
        public var role: Role

        /// A principal.
        public init(name: String, role: Role) {
            self.name = name
            self.role = role
        }
    }

    /// Token → principal.
    public let tokens: [String: Principal]

    /// Whether any token is configured; when not, every caller is ``anonymous``.
    public var isOpen: Bool { tokens.isEmpty }

    /// The caller when no tokens are configured.
    public static let anonymous = Principal(name: "anonymous", role: .operator)

    /// No tokens: the API is open.
    public static let open = AdminAccess(tokens: [:])

    /// Access with these tokens.
    public init(tokens: [String: Principal]) {
        self.tokens = tokens
    }

    /// Access from two lists of `name:token` pairs separated by commas, as configuration gives them
    /// (`SKALD_ADMIN_VIEWER_TOKENS=grafana:abc`, `SKALD_ADMIN_OPERATOR_TOKENS=alice:s3cret,bob:t0ps3cret`).
    ///
    /// - Throws: ``AdminAccessError`` for an entry without a name or a token, a token shorter
    ///   than 8 characters, or a token given twice.
    public init(viewers: String, operators: String) throws(AdminAccessError) {
        var tokens: [String: Principal] = [:]
        for (list, role) in [(viewers, Role.viewer), (operators, Role.operator)] {
            for (position, entry) in list.split(separator: ",").enumerated() {
                let trimmed = entry.trimmingCharacters(in: .whitespaces)
                guard let colon = trimmed.firstIndex(of: ":") else {
                    // Named by position: an entry without a colon is most often a bare token.
                    throw AdminAccessError("entry \(position + 1) of the \(role.rawValue) tokens is not name:token")
                }
                let name = String(trimmed[..<colon])
                let token = String(trimmed[trimmed.index(after: colon)...])
                guard !name.isEmpty, !token.isEmpty else { throw AdminAccessError("'\(name):…' needs both a name and a token") }
                guard token.count >= 8 else { throw AdminAccessError("the token of '\(name)' is shorter than 8 characters") }
                guard tokens[token] == nil else { throw AdminAccessError("the token of '\(name)' is given twice") }
                tokens[token] = Principal(name: name, role: role)
            }
        }
        self.init(tokens: tokens)
    }

    /// The principal behind an `Authorization` header, if it may act as `role`.
    ///
    /// - Throws: ``AdminAPIError`` 401 without a known bearer token, 403 for a role too low.
    public func authorize(_ authorization: String?, as role: Role) throws(AdminAPIError) -> Principal {
        if isOpen { return Self.anonymous }
        guard let authorization, authorization.lowercased().hasPrefix("bearer ") else {
            throw AdminAPIError(.unauthorized, .unauthorized, "send 'Authorization: Bearer <token>'")
        }
        let presented = authorization.dropFirst("bearer ".count).trimmingCharacters(in: .whitespaces)
        // Compared with every token, each in constant time, so timing says nothing of how
        // close a guess came.
        var match: Principal?
        for (token, principal) in tokens where Self.constantTimeEqual(token, presented) { match = principal }
        guard let principal = match else { throw AdminAPIError(.unauthorized, .unauthorized, "the bearer token is not one this server knows") }
        guard principal.role >= role else {
            throw AdminAPIError(.forbidden, .forbidden, "\(principal.name) is a \(principal.role.rawValue); this needs the \(role.rawValue) role")
        }
        return principal
    }

    static func constantTimeEqual(_ lhs: String, _ rhs: String) -> Bool {
        let left = Array(lhs.utf8)
        let right = Array(rhs.utf8)
        var difference: UInt8 = 0
        for index in 0..<max(left.count, right.count) {
            difference |= (index < left.count ? left[index] : 0) ^ (index < right.count ? right[index] : 0)
        }
        return difference == 0 && left.count == right.count
    }
}

/// A token list that cannot be read; the message says which entry, never the token.
public struct AdminAccessError: Error, Sendable, CustomStringConvertible {
    /// What is wrong.
    public var description: String

    init(_ description: String) {
        self.description = "admin tokens: " + description
    }
}
