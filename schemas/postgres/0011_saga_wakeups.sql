-- A saga's armed timers move onto its `sagas` row, and one `saga_wakeups` row per saga with
-- timers says when the timer service must look at it.
--
-- Every step used to insert a `timers` row when its command went out (a heap tuple, entries in
-- two indexes) and delete it when the reply came, usually milliseconds later: a fifth of
-- Postgres's time in an e2e burst (docs/benchmarks-e2e.md, session 27). Now the pump writes the
-- set of armed timers with the snapshot it writes anyway (a HOT update: `timers` and `wake_at`
-- are in no index), and touches `saga_wakeups` only when the earliest timer comes before the
-- row's time: a saga that moves on before its timeouts inserts its row once and deletes it once.
--
-- `wake_at` on `sagas` mirrors the saga's `saga_wakeups` row (NULL: none), so whoever holds the
-- saga knows whether the row exists and what it says without reading it.
--
-- An expand migration: `timers` stays. Orchestrators of earlier versions keep arming timers
-- there during a rolling deploy, and this version's timer service keeps firing what it finds
-- in it, so no timer armed before the deploy is lost.
SET LOCAL lock_timeout = '10s';

ALTER TABLE sagas ADD COLUMN timers  text,
                  ADD COLUMN wake_at timestamptz;

CREATE TABLE saga_wakeups (
    saga_id text COLLATE "C" PRIMARY KEY,
    wake_at timestamptz NOT NULL
);
CREATE INDEX saga_wakeups_by_due ON saga_wakeups (wake_at);

-- Fails the transaction that calls it, as a serialization failure, when `matched` differs from
-- `expected` (not `found`: PL/pgSQL's own FOUND would shadow it). The pump's one-round-trip
-- path updates sagas' rows only where their `wake_at` is what its cache says, and calls this
-- with how many rows matched: a saga whose timers a timer service changed meanwhile (which
-- appends no event to collide with) sends the batch back under the row locks, as a collision in
-- the log does.
CREATE FUNCTION skald_expect_rows(matched bigint, expected integer) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF matched <> expected THEN
        RAISE EXCEPTION 'a saga''s timers changed under the batch: % of % rows as expected', matched, expected
            USING ERRCODE = 'serialization_failure';
    END IF;
END
$$;
