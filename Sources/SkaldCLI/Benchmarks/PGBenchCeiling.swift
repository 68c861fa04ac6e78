import ArgumentParser
import Foundation
import SkaldPostgres
import SkaldRuntime

/// The orchestrator benchmark's pgbench ceiling: what Postgres alone does with the pump's and
/// the relay's own statements (``PumpStatements``, the very texts they send) and column arrays
/// of the same rows, so the orchestrator's rate can be put against it.
///
/// One pgbench transaction is one pump batch of `batch` transitions in steady state, then one
/// relay round. In steady state every saga of a batch is cached, so the pump takes its
/// one-round-trip path (``SagaProcessor``): no row locks and no log reads.
/// - record the inbox (every id new), append two events per transition, insert the snapshots
///   of the sagas started (one transition in six) and update the others;
///   queue five commands per six transitions (returning their ids: the pump hands the rows to
///   the relay, ``OutboxHandoff``, so nothing is notified and the relay reads nothing), with
///   each snapshot its armed timers; add a wake-up row for each saga started and remove one
///   for each saga ended (one in six each), correlate one saga in six, commit: one pipeline;
/// - delete the outbox rows with an asynchronous commit, as the relay does
///   (``DeliveredRows``): every ``forgetEvery(batch:)``-th transaction, the rows of that many
///   batches at once, about one relay round's worth (`OrchestratorConfiguration.defaultRelayBatchSize`).
///
/// The orchestrator also sends batches through its locked path (starts, sagas it has not
/// cached), which cost Postgres a round trip and two statements more; the ceiling leaves them
/// out, so it is the higher one.
///
/// pgbench cannot build the rows itself, so each transaction starts with a `\gset` query that
/// makes the column arrays in SQL, and the rows' ids for the delete come from another. Those two queries are
/// not the orchestrator's work: pgbench times every command (`-r`) and their share of each
/// transaction is taken out of the ceiling.
///
/// pgbench binds its variables as text, so Postgres parses the arrays' text form here, where
/// the orchestrator binds them in binary format (``PostgresArrayWriter``) and Postgres only
/// copies the elements. Both insert the same rows with the same statements; the ceiling pays
/// for the text, as a client without binary binds would.
enum PGBenchCeiling {
    /// Each client cycles through this many batches of its own sagas, `pgb-<client>-<n>`.
    static let slots = 40

    /// The smallest batch the script runs: a smaller one has no start (one transition in six
    /// is), and its empty column arrays would reach pgbench as empty strings, which no array
    /// cast takes.
    static let minimumBatch = 6

    /// The ceiling in transitions per second, and the share of each pgbench transaction that
    /// went to the scaffolding queries.
    struct Result {
        /// Transitions per second that Postgres sustains with the pump's and relay's statements.
        var transitionsPerSecond: Double
        /// The fraction of pgbench's time its scaffolding (array-building) queries took.
        var scaffoldingShare: Double
        /// Transitions the run committed (its transactions times the batch size).
        var transitions: Int
    }

    /// Runs the script for `seconds` with `clients` clients.
    ///
    /// The run must have written two events per transition and left no command in the outbox,
    /// or the script did not do the orchestrator's work and the ceiling would mean nothing.
    ///
    /// - Parameter seeding: writes the rows the script's snapshot updates find (``seed(url:batch:clients:)``)
    ///   first; a caller that measures the run's CPU seeds before it starts measuring.
    static func run(
        executable: String, url: String, batch: Int, clients: Int, seconds: Int, seeding: Bool = true
    ) async throws -> Result {
        // Each client relays its own lane (`client_id % 16`): two clients on one lane would
        // delete each other's rows, and the outbox check below would fail.
        guard clients <= OutboxRelay.laneCount else {
            throw ValidationError("the pgbench ceiling runs at most \(OutboxRelay.laneCount) clients (one outbox lane each); got \(clients)")
        }
        // The store's document type, as the pump reads it: the statements bind that type's arrays.
        let script = script(batch: batch, documents: try await BenchStore.documentColumns(url))
        let eventsBefore = try await BenchStore.count(url, "SELECT count(*)::bigint FROM saga_events")
        let outboxBefore = try await BenchStore.count(url, "SELECT count(*)::bigint FROM outbox")
        if seeding { try await seed(url: url, batch: batch, clients: clients) }
        let outcome = try await PGBench.run(
            executable: executable, url: url, script: script.text,
            clients: clients, seconds: seconds, variables: ["seq": "0"], reportingLatencies: true)
            // Postgres's default settings, not the pump's `enable_seqscan = off`
            // (`PumpStatements.sessionSettings`): with it pgbench ran these statements at
            // 17,500 transitions/s instead of about 25,000, and a ceiling is the best
            // Postgres does with them. pgbench inherits `PGOPTIONS`, to try others.
        let events = try await BenchStore.count(url, "SELECT count(*)::bigint FROM saga_events") - eventsBefore
        let outbox = try await BenchStore.count(url, "SELECT count(*)::bigint FROM outbox")
        // A client may stop between two deletes, leaving the rows of the batches since its last.
        let undeleted = clients * (forgetEvery(batch: batch) - 1) * (batch * 5 / 6)
        guard events == 2 * batch * outcome.transactions, outbox <= outboxBefore + undeleted else {
            throw ValidationError(
                "the pgbench ceiling's \(outcome.transactions) transactions wrote \(events) events (expected "
                    + "\(2 * batch * outcome.transactions)) and left \(outbox) outbox rows (\(outboxBefore) before, "
                    + "at most \(undeleted) more expected: the batches since each client's last delete)")
        }
        let latencies = outcome.commandLatencies
        guard latencies.count == script.commandCount else {
            throw ValidationError("pgbench reported \(latencies.count) command latencies for \(script.commandCount) commands")
        }
        // pgbench averages each command over the times it ran: weighted by how often it runs
        // per transaction, they add up to a transaction's time.
        let weighted = zip(latencies, script.weights).map { $0 * $1 }
        let total = weighted.reduce(0, +)
        let scaffolding = script.scaffolding.map { weighted[$0] }.reduce(0, +)
        let share = total > 0 ? scaffolding / total : 0
        return Result(
            transitionsPerSecond: outcome.transactionsPerSecond / (1 - share) * Double(batch),
            scaffoldingShare: share, transitions: outcome.transactions * batch)
    }

    /// A script, one command per line, and the lines of its scaffolding queries.
    struct Script {
        /// The script's text.
        var text: String
        /// How many commands (lines) it has.
        var commandCount: Int
        /// The indices of the commands that only build pgbench's column arrays.
        var scaffolding: [Int]
        /// Per command, how often it runs per transaction: 1, or 1/k for the relay's delete,
        /// which runs in every k-th.
        var weights: [Double]
    }

    /// How many of the script's transactions the relay's delete covers: the relay deletes the
    /// rows it delivered once a round's worth has gathered (``DeliveredRows``), which is this
    /// many pump batches' commands (five per six transitions), at least one.
    static func forgetEvery(batch: Int) -> Int {
        max(1, OrchestratorConfiguration.defaultRelayBatchSize / max(1, batch * 5 / 6))
    }

    /// The pgbench script, for a store whose document columns are of type `documents`.
    static func script(batch: Int, documents: SagaDocumentColumns = .text) -> Script {
        let writes = documents.statements
        let forgetEvery = forgetEvery(batch: batch)
        var lines = [
            "\\set n \(batch)",
            "\\set nout \(batch) * 5 / 6",
            "\\set forget_every \(forgetEvery)",
            "\\set nstart \(batch) / 6",
            "\\set slots \(slots)",
            "\\set seq :seq + 2",
            "\\set base ((:seq / 2) % :slots) * :n",
            columnsQuery,
        ]
        var scaffolding = [lines.count - 1]
        lines += [
            "\\startpipeline",
            "BEGIN ISOLATION LEVEL READ COMMITTED;",
            PGBench.command(PumpStatements.recordNewInbox, "inbox_id", "inbox_source"),
            PGBench.command(writes.appendEvents, "ev_saga", "ev_seq", "ev_type", "ev_at", "ev_body"),
            PGBench.command(
                writes.insertSnapshots, "sgi_id", "sgi_type", "sgi_version", "sgi_status", "sgi_step",
                "sgi_state", "sgi_steps", "sgi_key", "sgi_stuck", "sgi_trace", "sgi_seq", "sgi_created", "sgi_updated",
                "sgi_timers", "sgi_wake"),
            PGBench.command(
                writes.updateSnapshotsExpectingWakeups, "sg_id", "sg_status", "sg_step", "sg_state", "sg_steps", "sg_key",
                "sg_stuck", "sg_seq", "sg_updated", "sg_timers", "sg_wake", "sg_wake_before"),
            PGBench.command(
                PumpStatements.enqueueCommandsReturningIds, "ob_lane", "ob_id", "ob_saga", "ob_topic", "ob_key",
                "ob_headers", "ob_payload", "ob_first", "ob_last"),
            PGBench.command(PumpStatements.removeWakeups, "wk_gone"),
            PGBench.command(PumpStatements.addWakeups, "wk_id", "wk_at"),
            PGBench.command(PumpStatements.correlateNew, "co_type", "co_key", "co_saga"),
            "COMMIT;",
            "\\endpipeline",
        ]
        lines.append("\\if (:seq / 2) % :forget_every = 0")
        let deleteStart = lines.count
        scaffolding.append(lines.count)
        lines += [
            sentIdsQuery,
            "\\startpipeline",
            "BEGIN ISOLATION LEVEL READ COMMITTED;",
            PGBench.command(PumpStatements.forgetSentSetting),
            PGBench.command(PumpStatements.forgetSent, "sent"),
            "COMMIT;",
            "\\endpipeline",
        ]
        lines.append("\\endif")
        // `\endif` is timed only when its branch ran.
        let weights = lines.indices.map { $0 >= deleteStart ? 1 / Double(forgetEvery) : 1 }
        return Script(
            text: lines.joined(separator: "\n") + "\n", commandCount: lines.count, scaffolding: scaffolding, weights: weights)
    }

    /// A PlaceOrder saga's armed timers on its `sagas` row: one step timeout. (The updated rows
    /// keep `wake_at` NULL, as the pump's check expects them to be from one update to the next.) (The time's colons
    /// are dots, or pgbench would read `:34` as a variable; the column is text, never parsed.)
    private static let timers = #"[{"kind":"step-timeout","step":"process-payment","attempt":1,"due":"2026-11-25T18.47.04.439577Z"}]"#

    /// A PlaceOrder saga's state and steps on its `sagas` row, from a real run.
    private static let state = #"{"lines": [{"sku": "sku-4", "quantity": 1}], "orderId": "order-4", "paymentId": "p-order-4", "customerId": "customer-4", "amountCents": 504, "reservationId": "r-order-4"}"#
    private static let steps = #"[{"kind": "compensatable", "name": "create-order", "phase": "succeeded", "attempt": 1, "compensation": "none"}, {"kind": "compensatable", "name": "reserve-inventory", "phase": "succeeded", "attempt": 1, "compensation": "none"}, {"kind": "compensatable", "name": "process-payment", "phase": "running", "attempt": 1, "compensation": "none"}, {"kind": "pivot", "name": "confirm-order", "phase": "pending", "attempt": 0, "compensation": "none"}, {"kind": "retriable", "name": "notify-customer", "phase": "pending", "attempt": 0, "compensation": "none"}]"#

    /// Writes the rows of ``seedQuery(batch:clients:)``; rows already there are kept.
    static func seed(url: String, batch: Int, clients: Int) async throws {
        try await BenchStore.execute(url, PostgresQuery(seedQuery(batch: batch, clients: clients)))
    }

    /// The `sagas` rows the script's snapshot updates find: each client's `slots` batches of
    /// sagas, `pgb-<client>-<n>`, written before pgbench starts, as the orchestrator's cached
    /// sagas were written by their starts.
    static func seedQuery(batch: Int, clients: Int) -> String {
        """
        INSERT INTO sagas (saga_id, saga_type, definition_version, status, current_step, state, steps,
                           business_key, last_sequence, created_at, updated_at)
        SELECT 'pgb-' || c || '-' || i, 'PlaceOrder', 1, 'running', 'reserve-inventory', '\(state)'::json,
               '\(steps)'::json, 'order-' || i, 0, now(), now()
        FROM generate_series(0, \(clients - 1)) c, generate_series(1, \(slots * batch)) i
        ON CONFLICT (saga_id) DO NOTHING
        """
    }

    /// Builds every column array of one batch, as the pump would bind them, into pgbench variables
    /// (their text form, `{…}`).
    ///
    /// The values are those of a PlaceOrder saga moving from reserve-inventory to
    /// process-payment, taken from a real run. Colons inside JSON strings are written
    /// `\u003a`, or pgbench would read `:name` as a variable. Saga `base + g` was last written
    /// `slots` transactions ago, at the sequences just before this transaction's.
    private static let columnsQuery: String = {
        let succeeded = #"{"step": "reserve-inventory", "time": "2026-11-25T18\u003a46\u003a34.439577Z", "type": "step.succeeded", "reply": "com.example.inventory.InventoryReserved", "schema": 1, "attempt": 1, "payload": {"orderId": "order-4", "reservationId": "r-order-4"}, "messageId": "reply\u003aPlaceOrder-order-4/reserve-inventory/action/1"}"#
        let sent = #"{"step": "process-payment", "time": "2026-11-25T18\u003a46\u003a34.439577Z", "type": "step.command-sent", "schema": 1, "attempt": 1, "commandId": "PlaceOrder-order-4/process-payment/action/1"}"#
        let headers = #"[["ce_specversion", "1.0"], ["ce_id", "PlaceOrder-order-4/process-payment/action/1"], ["ce_source", "skald/PlaceOrder"], ["ce_type", "com.example.payments.ProcessPayment"], ["ce_time", "2026-11-25T18\u003a46\u003a34.439Z"], ["content-type", "application/json"], ["ce_sagaid", "PlaceOrder-order-4"], ["ce_sagatype", "PlaceOrder"], ["ce_sagastep", "process-payment"]]"#
        let payload = #"{"orderId": "order-4", "amountCents": 504, "customerId": "customer-4"}"#
        let saga = "'pgb-' || :client_id || '-' || (:base::int + g)"
        let startedSaga = "'pgb-' || :client_id || '-new-' || :seq || '-' || g"
        let messageId = "'pgb-' || :client_id || '-' || :seq || '-' || g"
        let query = """
            SELECT * FROM
              (SELECT array_agg(\(messageId))::text AS inbox_id, array_agg('skald.replies/0/' || g)::text AS inbox_source
                 FROM generate_series(1, :n::int) g) inbox,
              (SELECT array_agg(\(saga))::text AS ev_saga, array_agg(:seq::int + k)::text AS ev_seq,
                      array_agg(CASE k WHEN 0 THEN 'step.succeeded' ELSE 'step.command-sent' END)::text AS ev_type,
                      array_agg(now())::text AS ev_at,
                      array_agg(CASE k WHEN 0 THEN '\(succeeded)'::json ELSE '\(sent)'::json END)::text AS ev_body
                 FROM generate_series(1, :n::int) g, generate_series(0, 1) k) events,
              (SELECT array_agg(\(startedSaga))::text AS sgi_id, array_agg('PlaceOrder'::text)::text AS sgi_type,
                      array_agg(1)::text AS sgi_version, array_agg('running'::text)::text AS sgi_status,
                      array_agg('create-order'::text)::text AS sgi_step, array_agg('\(PGBenchCeiling.state)'::json)::text AS sgi_state,
                      array_agg('\(PGBenchCeiling.steps)'::json)::text AS sgi_steps, array_agg('order-n' || g)::text AS sgi_key,
                      array_agg(NULL::text)::text AS sgi_stuck, array_agg(NULL::text)::text AS sgi_trace,
                      array_agg(2)::text AS sgi_seq, array_agg(now())::text AS sgi_created,
                      array_agg(now())::text AS sgi_updated, array_agg('\(PGBenchCeiling.timers)'::text)::text AS sgi_timers,
                      array_agg(now() + interval '30 seconds')::text AS sgi_wake
                 FROM generate_series(1, :nstart::int) g) started,
              (SELECT array_agg(\(saga))::text AS sg_id, array_agg('running'::text)::text AS sg_status,
                      array_agg('process-payment'::text)::text AS sg_step, array_agg('\(PGBenchCeiling.state)'::json)::text AS sg_state,
                      array_agg('\(PGBenchCeiling.steps)'::json)::text AS sg_steps, array_agg('order-' || g)::text AS sg_key,
                      array_agg(NULL::text)::text AS sg_stuck, array_agg(:seq::int + 1)::text AS sg_seq,
                      array_agg(now())::text AS sg_updated, array_agg('\(PGBenchCeiling.timers)'::text)::text AS sg_timers,
                      array_agg(NULL::timestamptz)::text AS sg_wake, array_agg(NULL::timestamptz)::text AS sg_wake_before
                 FROM generate_series(:nstart::int + 1, :n::int) g) sagas,
              (SELECT array_agg(:client_id::int % 16)::text AS ob_lane, array_agg(\(messageId))::text AS ob_id,
                      array_agg(\(saga))::text AS ob_saga, array_agg('payments.commands'::text)::text AS ob_topic,
                      array_agg(\(saga))::text AS ob_key, array_agg('\(headers)'::text)::text AS ob_headers,
                      array_agg('\(payload)'::text)::text AS ob_payload, array_agg(NULL::int)::text AS ob_first,
                      array_agg(NULL::int)::text AS ob_last
                 FROM generate_series(1, :nout::int) g) outbox,
              (SELECT array_agg('pgb-' || :client_id || '-new-' || (:seq::int - 2 * :slots::int) || '-' || g)::text AS wk_gone
                 FROM generate_series(1, :nstart::int) g) ended,
              (SELECT array_agg(\(startedSaga))::text AS wk_id, array_agg(now() + interval '30 seconds')::text AS wk_at
                 FROM generate_series(1, :nstart::int) g) wakeups,
              (SELECT array_agg('PlaceOrder'::text)::text AS co_type, array_agg(\(messageId))::text AS co_key,
                      array_agg(\(saga))::text AS co_saga
                 FROM generate_series(1, :nstart::int) g) correlations,
              (SELECT '{' || (:client_id::int % 16) || ',' || (:client_id::int % 16 + 16) || '}' AS lanes,
                      '{}' AS held) relay
            """
        return String(PGBench.command(query).dropLast()) + " \\gset"
    }()

    /// The ids of the rows the pump handed the relay since its last delete, for the next (the
    /// orchestrator has them from the insert's `RETURNING`).
    private static let sentIdsQuery = String(PGBench.command(
        """
        SELECT coalesce(array_agg(id ORDER BY id), '{}')::text AS sent FROM (
          SELECT id FROM outbox WHERE lane = ANY(:lanes::smallint[]) ORDER BY id LIMIT :nout::int * :forget_every::int) o
        """
    ).dropLast()) + " \\gset"
}
