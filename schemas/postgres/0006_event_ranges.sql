-- The mirror of saga events (`skald.saga-events`, on when projections run) writes one outbox
-- row per decision naming a range of its saga's events, instead of one row per event that
-- copied the event and its headers: the relay reads the events from `saga_events` when it
-- publishes them, one message per event as before.
--
-- Measured with `skald bench e2e --projections` (docs/benchmarks-e2e.md, session 10): a row per
-- event wrote every event a second time, with its headers, and the mirror cost about a third of
-- the end-to-end capacity.
--
-- A range row's lane is its saga's lane plus 16 (`OutboxRelay.laneCount`): a relay of an
-- earlier version reads lanes 0–15 only, so during a rolling upgrade it leaves range rows to
-- the relays that can expand them, which read both lanes of every lane they own, in one
-- `ORDER BY id`, so a saga's events and commands still leave in the order they were written.
-- Adding nullable columns rewrites nothing, but takes the table's exclusive lock for a moment:
-- waiting for it behind a long transaction would hold every pump and relay back meanwhile, so the
-- migration gives up after 10 s instead (run `skald migrate` again).
SET LOCAL lock_timeout = '10s';
ALTER TABLE outbox ADD COLUMN first_sequence integer,
                   ADD COLUMN last_sequence  integer;
