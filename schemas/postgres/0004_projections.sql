-- Projections: read models built from the saga event log (docs/projections.md).
--
-- The orchestrator mirrors every saga event to `skald.saga-events` through the outbox. A
-- projection runner consumes that topic only to learn which sagas moved: it reads their new
-- events from `saga_events`, the source of truth, after the position it recorded for each
-- saga, and applies them to its read model in the same transaction that moves the position.
-- So a message delivered twice, out of order or never (a mirror turned on late, a topic
-- whose retention dropped it) cannot make a read model count an event twice or skip one:
-- the position says exactly which facts are in.

-- One row per projection a deployment has run.
CREATE TABLE projections (
    name            text        PRIMARY KEY,
    -- Events applied since the last rebuild (or since the projection first ran).
    events_applied  bigint      NOT NULL DEFAULT 0,
    -- When the runner last applied events, and the newest applied event's own time.
    last_applied_at timestamptz,
    last_event_at   timestamptz,
    -- The last rebuild that committed, and what it applied.
    rebuilt_at      timestamptz,
    rebuilt_sagas   bigint,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- How far each projection has applied each saga's log. A rebuild deletes a projection's
-- rows and writes them again; a runner locks the rows of the sagas in its batch, so two
-- runners (during a rebalance) never apply the same events.
CREATE TABLE projection_positions (
    projection text    NOT NULL,
    saga_id    text    NOT NULL,
    sequence   integer NOT NULL,
    PRIMARY KEY (projection, saga_id)
);
