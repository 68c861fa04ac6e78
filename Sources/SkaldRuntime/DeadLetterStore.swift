public import Foundation
public import SkaldPostgres

/// Reads the dead letters the pump recorded (`dead_letters`), newest first.
public struct DeadLetterStore: Sendable {
    let pool: PostgresPool

    /// A store over `pool`.
    public init(pool: PostgresPool) {
        self.pool = pool
    }

    private static let columns = """
        id, source_topic, source_partition, source_offset, reason, message_id, message_type, saga_id,
        dead_lettered_at, redriven_at, redriven_by
        """

    /// Up to `limit` dead letters with an id below `before`, newest first; only those naming
    /// `sagaId`, or only those not redriven yet, when asked.
    public func list(limit: Int, before: Int64? = nil, sagaId: String? = nil, pendingOnly: Bool = false) async throws
        -> [DeadLetterView]
    {
        let rows = try await pool.withConnection { connection in
            try await connection.query(
                PostgresQuery(
                    """
                    SELECT \(Self.columns) FROM dead_letters
                    WHERE ($1::bigint IS NULL OR id < $1) AND ($2::text IS NULL OR saga_id = $2)
                      AND (NOT $3::boolean OR redriven_at IS NULL)
                    ORDER BY id DESC LIMIT $4
                    """,
                    [PostgresValue(before.map(Int.init)), PostgresValue(sagaId), PostgresValue(pendingOnly), PostgresValue(limit)]))
        }
        return try rows.map { try Self.view($0, full: false) }
    }

    /// One dead letter with its key, payload and headers, or nil.
    public func deadLetter(id: Int64) async throws -> DeadLetterView? {
        let row = try await pool.withConnection { connection in
            try await connection.query(
                PostgresQuery(
                    "SELECT \(Self.columns), message_key, payload, headers::text FROM dead_letters WHERE id = $1",
                    [PostgresValue(Int(id))])
            ).first
        }
        return try row.map { try Self.view($0, full: true) }
    }

    /// Dead letters not redriven yet.
    public func pendingCount() async throws -> Int {
        try await pool.withConnection { connection in
            try await connection.query("SELECT count(*)::bigint FROM dead_letters WHERE redriven_at IS NULL").first?
                .decode(Int.self, at: 0) ?? 0
        }
    }

    /// Marks a dead letter redriven by `actor`; false when it was already (someone else was first).
    func markRedriven(id: Int64, by actor: String) async throws -> Bool {
        try await pool.withConnection { connection in
            try await connection.execute(
                PostgresQuery(
                    "UPDATE dead_letters SET redriven_at = now(), redriven_by = $2 WHERE id = $1 AND redriven_at IS NULL",
                    [PostgresValue(Int(id)), PostgresValue(actor)])) == 1
        }
    }

    /// Deletes the dead letters recorded before `cutoff`, and returns how many: the table keeps
    /// whole payloads, and nothing else removes them.
    public func purge(before cutoff: Date) async throws -> Int {
        try await pool.withConnection { connection in
            try await connection.execute(
                PostgresQuery("DELETE FROM dead_letters WHERE dead_lettered_at < $1", [PostgresValue(cutoff)]))
        }
    }

    /// Undoes ``markRedriven(id:by:)`` after a publish that failed.
    func releaseRedrive(id: Int64, by actor: String) async throws {
        try await pool.withConnection { connection in
            _ = try await connection.execute(
                PostgresQuery(
                    "UPDATE dead_letters SET redriven_at = NULL, redriven_by = NULL WHERE id = $1 AND redriven_by = $2",
                    [PostgresValue(Int(id)), PostgresValue(actor)]))
        }
    }

    private static func view(_ row: PostgresRow, full: Bool) throws -> DeadLetterView {
        var view = DeadLetterView(
            id: Int64(try row.decode(Int.self, at: 0)), sourceTopic: try row.decode(String.self, at: 1),
            sourcePartition: try row.decode(Int.self, at: 2), sourceOffset: Int64(try row.decode(Int.self, at: 3)),
            reason: try row.decode(String.self, at: 4), messageId: try row.decode(String?.self, at: 5),
            messageType: try row.decode(String?.self, at: 6), sagaId: try row.decode(String?.self, at: 7),
            deadLetteredAt: try row.decode(Date.self, at: 8), redrivenAt: try row.decode(Date?.self, at: 9),
            redrivenBy: try row.decode(String?.self, at: 10))
        if full {
            view.key = try row.decode([UInt8]?.self, at: 11).map { String(decoding: $0, as: UTF8.self) }
            let payload = try row.decode([UInt8].self, at: 12)
            view.payload = String(decoding: payload, as: UTF8.self)
            view.rawKey = try row.decode([UInt8]?.self, at: 11)
            view.rawPayload = payload
            let headers = try JSONDecoder().decode([[String]].self, from: Data(try row.decode(String.self, at: 13).utf8))
            view.headers = headers.compactMap { pair in pair.count == 2 ? DeadLetterView.Header(name: pair[0], value: pair[1]) : nil }
        }
        return view
    }
}

/// A dead letter as the admin API shows it.
public struct DeadLetterView: Sendable, Equatable, Codable {
    /// A message header; binary values are shown as UTF-8, with U+FFFD for what is not.
    public struct Header: Sendable, Equatable, Codable {
        /// Its name.
        public var name: String
        /// Its value.
        public var value: String

        /// A header.
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    /// Its id in `dead_letters`.
    public var id: Int64
    /// Where the message was consumed from.
    public var sourceTopic: String
    /// Its partition there.
    public var sourcePartition: Int
    /// Its offset there.
    public var sourceOffset: Int64
    /// Why it could not be handled.
    public var reason: String
    /// `ce_id`, when it had one.
    public var messageId: String?
    /// `ce_type`, when it had one.
    public var messageType: String?
    /// `ce_sagaid`, when it had one.
    public var sagaId: String?
    /// When the pump dead-lettered it.
    public var deadLetteredAt: Date
    /// When it was published again to its source topic, and by whom.
    public var redrivenAt: Date?
    /// Who redrove it.
    public var redrivenBy: String?
    /// Its key as text (one dead letter only).
    public var key: String?
    /// Its payload as text (one dead letter only).
    public var payload: String?
    /// Its headers as consumed (one dead letter only).
    public var headers: [Header]?
    /// The exact bytes, for a redrive; not encoded.
    var rawKey: [UInt8]?
    var rawPayload: [UInt8]?

    enum CodingKeys: String, CodingKey {
        case id, sourceTopic, sourcePartition, sourceOffset, reason, messageId, messageType, sagaId, deadLetteredAt,
            redrivenAt, redrivenBy, key, payload, headers
    }
}
