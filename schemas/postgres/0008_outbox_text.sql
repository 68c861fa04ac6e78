-- The outbox's `headers` and `payload` become `text`: the relay publishes the bytes as written, and
-- no insert validates them as JSON any more.
--
-- Every message costs its writer an outbox row, and a `json` value is parsed on the way in: with
-- eleven rows per PlaceOrder saga (the orchestrator's and the services'), that parse was a few per
-- cent of Postgres's CPU in the end-to-end benchmark (docs/benchmarks-e2e.md, session 18). Nobody
-- reads the outbox with JSON operators: the relay reads both columns as text, and the writers make
-- them with Skald's canonical encoder (payloads) and from the envelope (headers).
--
-- Not a contract migration: earlier versions insert `json` values, which become `text` by
-- assignment, and read the columns as `::text`. The table is rewritten under an `ACCESS EXCLUSIVE`
-- lock, which is short for a queue whose rows leave within milliseconds; it is given up after 10 s.
SET LOCAL lock_timeout = '10s';
ALTER TABLE outbox ALTER COLUMN headers TYPE text,
                   ALTER COLUMN payload TYPE text;
