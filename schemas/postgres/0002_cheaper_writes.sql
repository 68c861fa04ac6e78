-- Cheaper writes per transition: measured with `skald bench orchestrator` (docs/benchmarks-orchestrator.md).

-- 1. Event bodies, snapshots and outgoing messages are `json`, not `jsonb`.
--
-- Every transition writes two events, one snapshot (state and steps) and most often one
-- command. As `jsonb`, each value was parsed into a tree, its keys sorted, and the tree
-- serialised again on every read (the relay reads each outbox row once, the pump reads the
-- logs of uncached sagas): about a fifth of the server's CPU in the benchmark. `json` only
-- validates the text and keeps it byte for byte, so what Skald wrote is exactly what it
-- reads back and what it publishes. `->`, `->>` and expression indexes work on `json` too.
ALTER TABLE saga_events ALTER COLUMN event TYPE json USING event::json;
ALTER TABLE sagas ALTER COLUMN state TYPE json USING state::json,
                  ALTER COLUMN steps TYPE json USING steps::json;
ALTER TABLE outbox ALTER COLUMN headers TYPE json USING headers::json,
                   ALTER COLUMN payload TYPE json USING payload::json;

-- 2. Most snapshot updates are heap-only (HOT): no index names a column that every
-- transition changes.
--
-- Every transition rewrites its saga's row. While `updated_at` was indexed, each rewrite
-- added an entry to every index of the table (four). Listing orders by `created_at` now,
-- which never changes, so only a change of status (about two per saga) touches the status
-- indexes; the rest are HOT updates, for which each page keeps half its space free. Stuck sagas
-- (not terminal, quiet since a time) are one range of `sagas_by_status` per non-terminal
-- status, filtered by `updated_at`.
ALTER TABLE sagas SET (fillfactor = 50);
DROP INDEX sagas_by_status;
DROP INDEX sagas_by_type;
CREATE INDEX sagas_by_status ON sagas (status, created_at DESC);
CREATE INDEX sagas_by_type ON sagas (saga_type, status, created_at DESC);

-- 3. Timers are found by when they are due or by their id, never by saga: the index by
-- saga cost an entry for each of the one or two timers every transition writes.
DROP INDEX timers_by_saga;
