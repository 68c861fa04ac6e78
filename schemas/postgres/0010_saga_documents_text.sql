-- skald:contract
--
-- A saga's documents become `text`: the snapshot's `state` and `steps` (`sagas`) and each
-- event's body (`saga_events.event`).
--
-- The pump writes a saga's snapshot at every transition and one or two events with it, and
-- Postgres checked every `json` value it was given: 3.7 % of its CPU samples in the end-to-end
-- benchmark and 5.3 % in the orchestrator's (docs/benchmarks-e2e.md, session 20). Skald writes
-- these documents with its canonical encoder and reads them back as text; `json` kept them byte
-- for byte, and so does `text`. SQL that reads inside them casts first:
-- `state::json ->> 'amountCents'`.
--
-- A contract migration: processes of earlier versions read inside the documents with `->>` (the
-- reason a saga refused an operator's command; the example workload's order-board check), which
-- `text` does not take, so `skald migrate` applies it on a store in use only with `--contract`, once every orchestrator runs this version or a later one
-- (docs/architecture.md, "Upgrading a running deployment"). This version works with and without
-- it: it writes the type its store has (`SagaDocumentColumns`, read at its first batch), and
-- `json` values still fit `text` columns, so a process that started before the migration goes on
-- writing `json` into them until it restarts.
--
-- Changing a column's type from `json` rewrites the table under an `ACCESS EXCLUSIVE` lock:
-- sagas neither start nor move while it runs: on this project's machine 2.4 s for a million events
-- and 1.0 s for a hundred thousand sagas (docs/architecture.md). The lock is given up after 10 s of
-- waiting for it.
SET LOCAL lock_timeout = '10s';
ALTER TABLE saga_events ALTER COLUMN event TYPE text;
ALTER TABLE sagas ALTER COLUMN state TYPE text,
                  ALTER COLUMN steps TYPE text;
