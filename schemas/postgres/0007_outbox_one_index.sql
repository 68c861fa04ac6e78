-- skald:contract
--
-- The outbox keeps one index, its primary key on (lane, id), instead of three: the primary key
-- on id, the unique message id and `outbox_by_lane` on (lane, id).
--
-- Every message costs its producer an outbox row that is written once, read once by the relay
-- and deleted, so each index entry is paid for by every message and never read again. The relay
-- reads by (lane, id) and deletes the rows it read by their place in the table (`ctid`, with
-- the id checked), so it needs no index of its own for that; the unique message id only guarded
-- against writing one message twice, which the pump never does, and which each consumer's inbox
-- would drop anyway. Measured (docs/benchmarks-e2e.md, session 11): the outbox's share of the
-- WAL fell from about 600 to 370 bytes per message.
--
-- A contract migration: processes of earlier versions insert with `ON CONFLICT (message_id)`,
-- which fails without the unique index, so `skald migrate` applies it on an existing store only
-- with `--contract`, once every orchestrator runs this version or a later one (see
-- docs/architecture.md, "Upgrading a running deployment"). This version works with and without it.
SET LOCAL lock_timeout = '10s';
ALTER TABLE outbox DROP CONSTRAINT outbox_message_id_key,
                   DROP CONSTRAINT outbox_pkey;
ALTER TABLE outbox ADD CONSTRAINT outbox_pkey PRIMARY KEY (lane, id);
DROP INDEX outbox_by_lane;
