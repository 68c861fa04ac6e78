-- Skald's saga store.
--
-- saga_events is the source of truth: one row per fact, appended and never changed.
-- Every other table is written in the same transaction as the events it follows from,
-- so a crash can never leave a snapshot, an outgoing command or a timer without its fact.

CREATE TABLE saga_events (
    saga_id     text        NOT NULL,
    sequence    integer     NOT NULL CHECK (sequence > 0),
    event_type  text        NOT NULL,
    event       jsonb       NOT NULL,
    recorded_at timestamptz NOT NULL,
    PRIMARY KEY (saga_id, sequence)
);

-- The snapshot of each instance: what folding its events gives, kept for fast reads.
CREATE TABLE sagas (
    saga_id            text        PRIMARY KEY,
    saga_type          text        NOT NULL,
    definition_version integer     NOT NULL,
    status             text        NOT NULL,
    current_step       text,
    state              jsonb       NOT NULL,
    steps              jsonb       NOT NULL,
    business_key       text,
    stuck_reason       text,
    -- The W3C trace context the saga started with: every command it sends continues that trace.
    traceparent        text,
    last_sequence      integer     NOT NULL,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL
);
-- Every transition rewrites the row and so every index entry of it: keep the indexes few.
-- Stuck sagas (not terminal and quiet for long, the admin API's `stuck=` filter) are found
-- through sagas_by_status too, one range per non-terminal status.
CREATE INDEX sagas_by_status ON sagas (status, updated_at DESC);
CREATE INDEX sagas_by_type ON sagas (saga_type, status, updated_at DESC);
CREATE INDEX sagas_by_business_key ON sagas (business_key) WHERE business_key IS NOT NULL;

-- Consumed message ids: a message seen twice is skipped in the transaction that would apply it.
CREATE TABLE inbox (
    message_id  text        PRIMARY KEY,
    source      text        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inbox_by_age ON inbox (received_at);

-- Commands waiting to be published. The relay deletes a row once Kafka acknowledged it.
-- `lane` spreads sagas over a fixed number of ordered queues: one relay at a time owns a
-- lane (an advisory lock), which keeps each saga's commands in order across instances.
CREATE TABLE outbox (
    id          bigserial   PRIMARY KEY,
    lane        smallint    NOT NULL,
    message_id  text        NOT NULL UNIQUE,
    saga_id     text        NOT NULL,
    topic       text        NOT NULL,
    message_key text        NOT NULL,
    headers     jsonb       NOT NULL,
    payload     jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_by_lane ON outbox (lane, id);
-- A queue: every row is deleted soon after it is written. Vacuum it often, so the relay's
-- index scans do not wade through dead rows.
ALTER TABLE outbox SET (autovacuum_vacuum_scale_factor = 0.0, autovacuum_vacuum_threshold = 5000,
                        autovacuum_vacuum_cost_delay = 0);

-- Durable timers: step timeouts, retry backoffs and saga deadlines.
CREATE TABLE timers (
    timer_id  text        PRIMARY KEY,
    saga_id   text        NOT NULL,
    saga_type text        NOT NULL,
    kind      text        NOT NULL,
    step      text,
    attempt   integer,
    due_at    timestamptz NOT NULL
);
CREATE INDEX timers_by_due ON timers (due_at);
CREATE INDEX timers_by_saga ON timers (saga_id);

-- Business keys (e.g. an order id) that route domain events to the saga they belong to.
CREATE TABLE correlations (
    saga_type       text NOT NULL,
    correlation_key text NOT NULL,
    saga_id         text NOT NULL,
    PRIMARY KEY (saga_type, correlation_key)
);

-- What operators did, and why.
CREATE TABLE audit_log (
    id       bigserial   PRIMARY KEY,
    saga_id  text        NOT NULL,
    action   text        NOT NULL,
    actor    text        NOT NULL,
    reason   text        NOT NULL,
    outcome  text        NOT NULL,
    at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_by_saga ON audit_log (saga_id, id);
