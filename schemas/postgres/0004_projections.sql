-- Projections: read models built from the saga event log (docs/projections.md).
--
-- The orchestrator mirrors every saga event to `skald.saga-events` through the outbox. A
-- projection runner consumes that topic only to learn which sagas moved: it reads their new
-- events from `saga_events`, the source of truth, after the position it recorded for each
-- saga, and applies them to its read model in the same transaction that moves the position.
-- So a message delivered twice or out of order cannot make a read model count an event twice,
-- and one never delivered (a mirror turned on late, a topic whose retention dropped it) is made
-- up for by the saga's next event or, for a saga that has finished, by the catch-up pass each
-- runner makes when it starts.

-- One row per projection a deployment has run, and its last rebuild.
CREATE TABLE projections (
    name           text        PRIMARY KEY,
    rebuilt_at     timestamptz,
    rebuilt_sagas  bigint,
    rebuilt_events bigint,
    created_at     timestamptz NOT NULL DEFAULT now()
);

-- How far each projection has applied each saga's log: its last sequence applied (so also how
-- many events), and that event's time. Runners lock the rows of the sagas in their batch, so two
-- runners (during a rebalance) never apply the same events; a rebuild deletes a projection's
-- rows and writes them again.
CREATE TABLE projection_positions (
    projection text        NOT NULL,
    saga_id    text        NOT NULL,
    sequence   integer     NOT NULL,
    event_at   timestamptz,
    PRIMARY KEY (projection, saga_id)
);
