-- Dead letters, kept where an operator can find them (docs/operations.md, "Dead letters").
--
-- The pump publishes every message it cannot parse or route to `skald.dead-letter` with the reason
-- in headers, as before. It now also records each one here, so the admin API and the dashboard can
-- list and search them, show why, and redrive one (publish it again to the topic it came from)
-- once what refused it is fixed; and so they outlive the dead-letter topic's retention.
CREATE TABLE dead_letters (
    id               bigserial   PRIMARY KEY,
    source_topic     text        NOT NULL,
    source_partition integer     NOT NULL,
    source_offset    bigint      NOT NULL,
    reason           text        NOT NULL,
    -- The message as consumed: key and value as bytes, headers as [[name, value], …] (values as text).
    message_key      bytea,
    payload          bytea       NOT NULL,
    headers          json        NOT NULL,
    -- From its CloudEvents headers, when it had them: what it was and which saga it named.
    message_id       text,
    message_type     text,
    saga_id          text,
    dead_lettered_at timestamptz NOT NULL DEFAULT now(),
    redriven_at      timestamptz,
    redriven_by      text,
    -- A message dead-lettered again after a crash is recorded once.
    UNIQUE (source_topic, source_partition, source_offset)
);
CREATE INDEX dead_letters_by_saga ON dead_letters (saga_id, id) WHERE saga_id IS NOT NULL;
-- The dashboard counts those not redriven yet every few seconds.
CREATE INDEX dead_letters_pending ON dead_letters (id) WHERE redriven_at IS NULL;
