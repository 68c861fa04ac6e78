-- skald:contract
--
-- The outbox keeps one index, its primary key on id, instead of three: the unique message id and
-- `outbox_by_lane` on (lane, id) go.
--
-- Every message costs its producer an outbox row that is written once, read once by the relay and
-- deleted, so every index entry is paid for by every message. The relay's read walks the primary
-- key in id order, filtering its lanes, and stops at its limit; its delete finds rows by id. The
-- unique message id only guarded against queueing one message twice, which the pump never does
-- (its cause is applied once, by the inbox) and which a consumer's inbox would drop anyway; the
-- lane index was seldom chosen, and when it was, as a bitmap scan, which unlike the primary key's
-- plain scan never marks the entries of deleted rows dead, so its rounds waded through them.
-- Measured in docs/benchmarks-e2e.md (session 11).
--
-- A contract migration: processes of earlier versions insert with `ON CONFLICT (message_id)`,
-- which fails without the unique index, so `skald migrate` applies it on a store in use only with
-- `--contract`, once every orchestrator runs this version or a later one (docs/architecture.md,
-- "Upgrading a running deployment"). This version works with and without it. Dropping an index
-- rewrites nothing; the lock is held for a moment, and given up after 10 s.
SET LOCAL lock_timeout = '10s';
ALTER TABLE outbox DROP CONSTRAINT outbox_message_id_key;
DROP INDEX outbox_by_lane;
