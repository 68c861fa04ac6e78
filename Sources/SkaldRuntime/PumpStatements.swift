package import SkaldPostgres

/// The SQL of one pump transaction and one relay round, in one place.
///
/// The pump and the relay send exactly these texts, with their values as `$n` binds. The
/// orchestrator benchmark sends the same texts through pgbench (with `$n` replaced by
/// pgbench variables) to measure what Postgres alone does with them: a ceiling for the
/// same statements, not for look-alikes.
package enum PumpStatements {
    /// Session settings of every connection that runs these statements (and the example
    /// services' too): `enable_seqscan = off`.
    ///
    /// Every statement here finds its rows by key, but the tables it touches are queues or
    /// grow from nothing: `saga_wakeups` and `outbox` hold few live rows and many dead ones between
    /// two autovacuum runs (a minute apart at least), and `sagas` is small when a deployment
    /// starts. A prepared statement's generic plan made while a table looked small reads it
    /// sequentially, and keeps doing so while the dead rows pile up: in the e2e benchmark
    /// each pump batch scanned all 650 pages of `timers` (where timers were armed before
    /// `saga_wakeups`), all of them dead rows. With
    /// sequential scans priced out, the planner probes the indexes whatever the statistics
    /// say (a statement without a usable index still scans). Measured in two alternating
    /// series (docs/benchmarks-e2e.md): Postgres CPU per saga 1.21–1.52 → 1.11–1.15 ms in a
    /// burst, 2.3–2.6 → 2.1 ms at 400 sagas/s. Forcing custom plans instead cost more in
    /// planning than it saved.
    package static let sessionSettings: [(name: String, value: String)] = [("enable_seqscan", "off")]

    /// ``sessionSettings`` as statements for `PostgresPool(sessionSetup:)`.
    package static var sessionSetup: [PostgresQuery] {
        // Built as a String first: interpolating into a `PostgresQuery` would make binds, and
        // `SET` takes none.
        sessionSettings.map { setting in
            let sql = "SET \(setting.name) = \(setting.value)"
            return PostgresQuery(sql)
        }
    }

    /// The sagas a batch names by id. `$1`: a JSON array of saga ids.
    package static let sagasById = "SELECT jsonb_array_elements_text($1::jsonb)"

    /// The sagas a batch names by id or by business key. `$1`: a JSON array of saga ids;
    /// `$2`: `[{"t": saga type, "k": business key}, …]`.
    package static let sagasByIdOrKey = """
        SELECT jsonb_array_elements_text($1::jsonb)
        UNION SELECT c.saga_id FROM correlations c
          JOIN jsonb_to_recordset($2::jsonb) AS x(t text, k text) ON c.saga_type = x.t AND c.correlation_key = x.k
        """

    /// Locks the batch's sagas, in id order so that batches never wait on each other in a cycle.
    /// `involved` is ``sagasById`` or ``sagasByIdOrKey``.
    package static func lockSagas(_ involved: String) -> String {
        """
        SELECT saga_id, saga_type, definition_version, status, last_sequence, traceparent, timers, wake_at FROM sagas
        WHERE saga_id IN (\(involved)) ORDER BY saga_id FOR UPDATE
        """
    }

    /// The sagas that business keys name. `$1`: `[{"t": saga type, "k": business key}, …]`.
    package static let resolveKeys = """
        SELECT c.saga_type, c.correlation_key, c.saga_id FROM correlations c
        JOIN jsonb_to_recordset($1::jsonb) AS x(t text, k text)
          ON c.saga_type = x.t AND c.correlation_key = x.k
        """

    /// Records consumed message ids; returns the new ones. `$1`: the ids; `$2`: each one's source.
    ///
    /// This and the other writes of a batch take their rows as one array per column, bound in
    /// binary format (``InboxRows``, ``BatchWrites``, ``OutboxRows``): Postgres reads each element
    /// with its type's `recv` function, where a JSON document of the rows was lexed two or
    /// three times over (docs/benchmarks-orchestrator.md, session 13).
    package static let recordInbox = recordNewInbox + "\nON CONFLICT (message_id) DO NOTHING RETURNING message_id"

    /// Records consumed message ids that must be new: a message the inbox has seen fails the
    /// statement (unique violation) and so the transaction. The one-round-trip path sends it,
    /// and redoes a failed batch under the row locks with ``recordInbox``.
    /// `$1`: the ids; `$2`: each one's source.
    package static let recordNewInbox = """
        INSERT INTO inbox (message_id, source)
        SELECT x.id, x.source FROM unnest($1::text[], $2::text[]) AS x(id, source)
        """

    /// The logs of the locked sagas whose last sequence is not the cached one. `involved`
    /// binds `$1` (and `$2`); `cachedParameter` (`$2` or `$3`) is `{"saga id": last sequence, …}`.
    package static func loadLogs(_ involved: String, cachedParameter: String) -> String {
        """
        SELECT e.saga_id, e.sequence, e.event_type, e.recorded_at, e.event::text
        FROM sagas s JOIN saga_events e ON e.saga_id = s.saga_id
        WHERE s.saga_id IN (\(involved))
          AND s.last_sequence IS DISTINCT FROM (\(cachedParameter)::jsonb ->> s.saga_id)::integer
        ORDER BY e.saga_id, e.sequence
        """
    }

    /// The statements that write a saga's documents (event bodies, snapshot state and steps),
    /// whose arrays are bound as the store's type (``SagaDocumentColumns``): one set of texts
    /// per type, made once.
    package struct DocumentWrites: Sendable {
        /// Appends events. `$1`…`$5`: the columns saga_id, sequence, event_type, recorded_at, event.
        package let appendEvents: String

        /// Inserts the snapshots of sagas started in this batch. `$1`…`$15`: the columns of `sagas`
        /// below, one element per saga; `timers` and `wake_at` are the saga's armed timers
        /// (``PendingTimers``) and when its `saga_wakeups` row says to wake it.
        ///
        /// A plain insert. A start is taken to be new only where no row was found: under the row
        /// locks, or, on the one-round-trip path, for a saga the cache does not hold. A saga that
        /// exists after all fails this insert (or, first, the append of its first event) with a
        /// unique violation, and the one-round-trip path redoes the batch under the locks, where
        /// the start is found to be a duplicate.
        package let insertSnapshots: String

        /// Updates the snapshots of sagas that have one. `$1`…`$8`: the columns saga_id, status,
        /// current_step, state, steps, business_key, stuck_reason, last_sequence; `$9`: when;
        /// `$10`, `$11`: timers and wake_at, which are in no index, so a transition that keeps
        /// the status and the business key stays a HOT update.
        ///
        /// An update, not an `INSERT … ON CONFLICT DO UPDATE`: that checked the primary key for
        /// the conflict, locked the row (a WAL record of its own) and then updated it, for every
        /// one of the five transitions in six that move an existing saga. The type, version,
        /// creation time and trace context never change after the insert.
        /// Every saga named here has its row: the pump read it under a lock in this transaction, or
        /// committed it before and holds the saga in its cache, and rows of sagas are never deleted.
        package let updateSnapshots: String

        /// ``updateSnapshots`` for the one-round-trip path: `$12` is when each saga's wake-up row
        /// said to wake it by the cache (NULL: none), and a row whose `wake_at` says otherwise is
        /// left alone and fails the transaction as a serialization failure
        /// (`skald_expect_rows`), which sends the batch under the row locks. A timer service
        /// changes a saga's timers without an event, and always moves its `wake_at` when it does.
        package let updateSnapshotsExpectingWakeups: String

        /// The statements for `json` columns.
        package static let json = DocumentWrites(.json)
        /// The statements for `text` columns.
        package static let text = DocumentWrites(.text)

        private init(_ documents: SagaDocumentColumns) {
            let array = documents.sqlArrayType
            appendEvents = """
                INSERT INTO saga_events (saga_id, sequence, event_type, recorded_at, event)
                SELECT x.saga_id, x.sequence, x.event_type, x.recorded_at, x.event
                FROM unnest($1::text[], $2::integer[], $3::text[], $4::timestamptz[], $5::\(array))
                  AS x(saga_id, sequence, event_type, recorded_at, event)
                """
            insertSnapshots = """
                INSERT INTO sagas (saga_id, saga_type, definition_version, status, current_step, state, steps,
                                   business_key, stuck_reason, traceparent, last_sequence, created_at, updated_at,
                                   timers, wake_at)
                SELECT x.saga_id, x.saga_type, x.definition_version, x.status, x.current_step, x.state, x.steps,
                       x.business_key, x.stuck_reason, x.traceparent, x.last_sequence,
                       coalesce(x.created_at, now()), coalesce(x.updated_at, now()), x.timers, x.wake_at
                FROM unnest($1::text[], $2::text[], $3::integer[], $4::text[], $5::text[], $6::\(array), $7::\(array),
                            $8::text[], $9::text[], $10::text[], $11::integer[], $12::timestamptz[], $13::timestamptz[],
                            $14::text[], $15::timestamptz[])
                  AS x(saga_id, saga_type, definition_version, status, current_step, state, steps,
                       business_key, stuck_reason, traceparent, last_sequence, created_at, updated_at, timers, wake_at)
                """
            // The columns a transition changes, shared by the two updates.
            let changedColumns = """
                status = x.status, current_step = x.current_step, state = x.state, steps = x.steps,
                    business_key = x.business_key, stuck_reason = x.stuck_reason,
                    last_sequence = x.last_sequence, updated_at = coalesce(x.updated_at, now()),
                    timers = x.timers, wake_at = x.wake_at
                """
            let changedArrays = """
                $1::text[], $2::text[], $3::text[], $4::\(array), $5::\(array), $6::text[], $7::text[],
                            $8::integer[], $9::timestamptz[], $10::text[], $11::timestamptz[]
                """
            let changedNames = """
                saga_id, status, current_step, state, steps, business_key, stuck_reason, last_sequence, updated_at,
                       timers, wake_at
                """
            updateSnapshots = """
                UPDATE sagas s SET
                    \(changedColumns)
                FROM unnest(\(changedArrays))
                  AS x(\(changedNames))
                WHERE s.saga_id = x.saga_id
                """
            updateSnapshotsExpectingWakeups = """
                WITH updated AS (
                    UPDATE sagas s SET
                        \(changedColumns)
                    FROM unnest(\(changedArrays), $12::timestamptz[])
                      AS x(\(changedNames), wake_before)
                    WHERE s.saga_id = x.saga_id AND s.wake_at IS NOT DISTINCT FROM x.wake_before
                    RETURNING 1)
                SELECT skald_expect_rows(count(*), cardinality($1::text[])) FROM updated
                """
        }
    }

    /// Queues commands, and the mirror's ranges of saga events (``OutboxRows``).
    /// `$1`…`$9`: the columns lane, message_id, saga_id, topic, message_key, headers, payload,
    /// first_sequence, last_sequence; the sequences NULL but on range rows.
    ///
    /// A plain insert: no `ON CONFLICT` on the message id, whose unique index the outbox no
    /// longer has (`0007_outbox_one_index.sql`). A message is queued once because its cause
    /// is applied once (the inbox), and a consumer's inbox would drop a copy anyway.
    /// Headers and payload are `text` (`0008_outbox_text.sql`): JSON that Postgres need not parse.
    package static let enqueueCommands = """
        INSERT INTO outbox (lane, message_id, saga_id, topic, message_key, headers, payload, first_sequence, last_sequence)
        SELECT x.lane, x.message_id, x.saga_id, x.topic, x.message_key, x.headers, x.payload,
               x.first_sequence, x.last_sequence
        FROM unnest($1::smallint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                    $8::integer[], $9::integer[])
          AS x(lane, message_id, saga_id, topic, message_key, headers, payload, first_sequence, last_sequence)
        """

    /// ``enqueueCommands`` returning each row's id and message id: for rows the writer hands
    /// to the relay after the commit (``OutboxHandoff``), which deletes them by id.
    package static let enqueueCommandsReturningIds = enqueueCommands + "\nRETURNING id, message_id"

    /// Sets when the timer service wakes sagas that had no `saga_wakeups` row, and must not
    /// have one: a saga that has one fails the statement (unique violation) and so the
    /// transaction. The one-round-trip path sends it, and redoes a failed batch under the row
    /// locks, where ``setWakeups`` is sent instead. `$1`: saga ids; `$2`: when.
    package static let addWakeups = """
        INSERT INTO saga_wakeups (saga_id, wake_at)
        SELECT x.saga_id, x.wake_at FROM unnest($1::text[], $2::timestamptz[]) AS x(saga_id, wake_at)
        """

    /// Sets when the timer service wakes sagas, inserting their `saga_wakeups` rows where
    /// they have none. `$1`: saga ids; `$2`: when.
    ///
    /// The pump sends this for sagas whose earliest timer came before their row's time, or
    /// whose row came due (about once per saga), and, under the row locks, for new rows too.
    /// A `MERGE` rather than `INSERT … ON CONFLICT DO UPDATE`, which first locked each row it
    /// found (a WAL record of its own) and then updated it: 1.8 lock records per PlaceOrder
    /// saga in `pg_waldump`. Nobody else inserts a saga's row while its writer holds it (under
    /// the row lock), or without a unique violation the one-round-trip path redoes.
    package static let setWakeups = """
        MERGE INTO saga_wakeups w
        USING unnest($1::text[], $2::timestamptz[]) AS x(saga_id, wake_at) ON w.saga_id = x.saga_id
        WHEN MATCHED THEN UPDATE SET wake_at = x.wake_at
        WHEN NOT MATCHED THEN INSERT (saga_id, wake_at) VALUES (x.saga_id, x.wake_at)
        """

    /// Removes the `saga_wakeups` rows of sagas with no timer armed (most of them because they
    /// ended). `$1`: saga ids.
    package static let removeWakeups = """
        DELETE FROM saga_wakeups WHERE saga_id = ANY($1::text[])
        """

    /// Sets sagas' armed timers and when their `saga_wakeups` rows say to wake them, without a
    /// transition: the timer service's, for the sagas whose wake-up came due. `$1`: saga ids;
    /// `$2`: their timers (``PendingTimers``); `$3`: when.
    package static let rearmTimers = """
        UPDATE sagas s SET timers = x.timers, wake_at = x.wake_at
        FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS x(saga_id, timers, wake_at)
        WHERE s.saga_id = x.saga_id
        """

    /// Maps business keys to new sagas; a key mapped already keeps its saga. `$1`…`$3`: the
    /// columns saga_type, correlation_key, saga_id.
    package static let correlate = correlateNew + "\nON CONFLICT DO NOTHING"

    /// Maps business keys that must be new to new sagas: a key mapped already fails the
    /// statement (unique violation), and the one-round-trip path, which sends it, redoes the
    /// batch under the row locks with ``correlate``. Columns as there. Like
    /// ``addWakeups``, it spares every row the `ON CONFLICT` work for a case that
    /// almost never happens.
    package static let correlateNew = """
        INSERT INTO correlations (saga_type, correlation_key, saga_id)
        SELECT x.saga_type, x.correlation_key, x.saga_id
        FROM unnest($1::text[], $2::text[], $3::text[]) AS x(saga_type, correlation_key, saga_id)
        """

    /// Wakes the relays of the session's schema (``OutboxRelay/notifySQL``).
    package static let notifyRelays = OutboxRelay.notifySQL

    /// The relay's read of its lanes' oldest rows. `$1`: the lanes (`{0,1,…}`); `$2`: the
    /// topics held back by open circuits (`{"a","b"}`); `$3`: how many rows; `$4`: the ids of
    /// rows the relay holds already, handed over by their writers (``OutboxHandoff``), which
    /// the read skips instead of sending them back.
    ///
    /// The outbox's one index is its primary key (`0007_outbox_one_index.sql`): the plan walks
    /// it in id order, filters the lanes and stops at the limit. A plain index scan also marks
    /// the entries of rows deleted by earlier rounds dead as it passes them, so the next round
    /// skips them. (With an index on (lane, id) beside it, the planner sometimes took a bitmap
    /// scan of that, which marks nothing: in a burst a round then visited some 20,000 dead
    /// entries to find 500 rows.)
    package static let readOutbox = """
        SELECT id, topic, message_key, headers::text, payload::text FROM outbox
        WHERE lane = ANY($1::smallint[]) AND topic <> ALL($2::text[]) AND id <> ALL($4::bigint[])
        ORDER BY id LIMIT $3
        """

    /// The orchestrator relay's read of its lanes' oldest rows, with the events each range row
    /// names (one result row per event, in sequence order; one with NULL events for any other
    /// row). Parameters as in ``readOutbox``, whose columns come first; then whether the row is
    /// a range, and each event's sequence, type, time (microseconds since 1970) and body.
    ///
    /// The `LIMIT` counts outbox rows, so a round never publishes part of a range. `OFFSET 0`
    /// keeps the events' subquery a probe of `saga_events`' primary key per range row (and
    /// none for a command, whose `first_sequence IS NOT NULL` is a one-time filter): without
    /// it, the planner may flatten it into a hash join that reads the whole log, and did so
    /// on a store whose log looked small. The time
    /// comes as a number, not formatted here: pgbench, which runs this text for the ceiling,
    /// would read the colons of a format as its variables.
    package static let readOutboxWithEvents = """
        SELECT o.id, o.topic, o.message_key, o.headers::text, o.payload::text, o.first_sequence IS NOT NULL,
               e.sequence, e.event_type, (extract(epoch FROM e.recorded_at) * 1000000)::bigint, e.event::text
        FROM (SELECT id, topic, message_key, headers, payload, saga_id, first_sequence, last_sequence FROM outbox
              WHERE lane = ANY($1::smallint[]) AND topic <> ALL($2::text[]) AND id <> ALL($4::bigint[])
              ORDER BY id LIMIT $3) o
        LEFT JOIN LATERAL (
            SELECT sequence, event_type, recorded_at, event FROM saga_events
            WHERE o.first_sequence IS NOT NULL AND saga_id = o.saga_id
              AND sequence BETWEEN o.first_sequence AND o.last_sequence
            ORDER BY sequence OFFSET 0) e ON true
        ORDER BY o.id, e.sequence
        """

    /// The relay's read of a half-open circuit's probes. `$1`: the lanes; `$2`: the topic; `$3`: how many.
    package static let readOutboxProbes = """
        SELECT id, topic, message_key, headers::text, payload::text FROM outbox
        WHERE lane = ANY($1::smallint[]) AND topic = $2
        ORDER BY id LIMIT $3
        """

    /// Sent rows are deleted with an asynchronous commit (see ``OutboxRelay``).
    package static let forgetSentSetting = "SET LOCAL synchronous_commit = off"

    /// Moves the start of range rows whose first events were delivered and a later one was
    /// not, so the next round sends only the rest. `$1`: the rows' ids; `$2`: each one's new
    /// first sequence, in the same order.
    package static let resumeRanges = """
        UPDATE outbox o SET first_sequence = x.first_sequence
        FROM unnest($1::bigint[], $2::integer[]) AS x(id, first_sequence)
        WHERE o.id = x.id
        """

    /// Deletes sent rows. `$1`: their ids (`{1,2,…}`).
    package static let forgetSent = "DELETE FROM outbox WHERE id = ANY($1::bigint[])"
}
