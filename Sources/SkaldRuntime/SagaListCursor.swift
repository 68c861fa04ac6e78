import Foundation

/// Where the next page of a saga listing starts: just after the last saga of this one, in
/// the listing's order (newest `created_at` first, then saga id).
///
/// Keyset pagination, so a page costs the same however deep it is, and sagas started while
/// someone pages appear on no page twice. Clients treat ``token`` as opaque.
public struct SagaListCursor: Sendable, Hashable {
    /// The last listed saga's `created_at`, in microseconds since 1970 (Postgres's precision).
    public var createdAtMicros: Int64
    /// The last listed saga's id.
    public var sagaId: String

    /// A cursor after the saga with this start time and id.
    public init(createdAtMicros: Int64, sagaId: String) {
        self.createdAtMicros = createdAtMicros
        self.sagaId = sagaId
    }

    /// The cursor as a URL-safe token (base64url of `micros:sagaId`).
    public var token: String {
        Data("\(createdAtMicros):\(sagaId)".utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// Reads a token made by ``token``; nil when it is not one.
    public init?(token: String) {
        var base64 = token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        guard let data = Data(base64Encoded: base64), let text = String(data: data, encoding: .utf8),
            let colon = text.firstIndex(of: ":"), let micros = Int64(text[..<colon])
        else { return nil }
        let sagaId = String(text[text.index(after: colon)...])
        guard !sagaId.isEmpty else { return nil }
        self.init(createdAtMicros: micros, sagaId: sagaId)
    }
}
