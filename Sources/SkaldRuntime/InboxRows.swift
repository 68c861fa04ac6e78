import SkaldPostgres

/// Inbox rows for one statement (`PumpStatements.recordInbox` or `recordNewInbox`): the
/// consumed messages' ids and where each came from, a binary array each.
struct InboxRows {
    private var ids = PostgresArrayWriter(of: .text)
    private var sources = PostgresArrayWriter(of: .text)

    /// Rows appended so far.
    var count: Int { ids.count }

    /// Appends message `id`, consumed from `source` (`topic/partition/offset`).
    mutating func append(id: String, source: String?) {
        ids.append(id)
        sources.append(source)
    }

    /// The statement's parameters: `$1` the ids, `$2` the sources.
    var values: [PostgresValue] { [ids.value, sources.value] }
}
