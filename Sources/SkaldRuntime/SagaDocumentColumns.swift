package import SkaldPostgres

/// The type of the columns that hold a saga's documents: the snapshot's `state` and `steps`
/// (`sagas`) and each event's body (`saga_events.event`).
///
/// `json` until `0010_saga_documents_text.sql`, `text` after it. That migration is a contract
/// migration, so a store may have either while a deployment upgrades, and this version runs on
/// both: it binds the documents it writes as arrays of the store's type. Binding `json` arrays
/// would work on both (a `json` value fits a `text` column by assignment), but Postgres then
/// checks every document it is given, which is what the migration saves; binding `text` arrays to
/// `json` columns fails, since no cast makes `json` of `text` by assignment.
///
/// What reads the documents does not depend on the type: the pump, the relay, the queries and
/// the replay select them as `::text`, so a prepared statement's result keeps its type when the
/// migration runs under it, and SQL that looks inside them casts to `json` first.
package enum SagaDocumentColumns: Sendable, Hashable {
    /// `json` columns, validated by Postgres on every write (the store before `0010`).
    case json
    /// `text` columns, stored as given (`0010_saga_documents_text.sql`).
    case text

    /// The element type the documents' column arrays are bound with.
    package var element: PostgresArrayWriter.Element {
        switch self {
        case .json: .json
        case .text: .text
        }
    }

    /// The documents' array type in SQL, for the writing statements' casts (`$5::json[]`).
    package var sqlArrayType: String {
        switch self {
        case .json: "json[]"
        case .text: "text[]"
        }
    }

    /// The pump's statements that write documents, for this type.
    package var statements: PumpStatements.DocumentWrites {
        switch self {
        case .json: PumpStatements.DocumentWrites.json
        case .text: PumpStatements.DocumentWrites.text
        }
    }

    /// The statement that reads the type, of `saga_events.event` in the session's schema: the
    /// migration changes all three columns in one transaction.
    package static let query =
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = to_regclass('saga_events') AND attname = 'event'"

    /// Reads the type the store on `connection` has (``query``).
    ///
    /// - Throws: ``SagaRuntimeError`` when the column is neither (a store not migrated by Skald).
    package static func read(on connection: PostgresConnection) async throws -> SagaDocumentColumns {
        let type = try await connection.query(PostgresQuery(query)).first?.decode(String.self, at: 0)
        switch type {
        case "json": return .json
        case "text": return .text
        default:
            throw SagaRuntimeError(
                "saga_events.event is \(type.map { "of type \($0)" } ?? "missing"), not json or text: "
                    + "is the saga store migrated (skald migrate)?")
        }
    }
}
