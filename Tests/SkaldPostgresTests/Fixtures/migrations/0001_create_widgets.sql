-- The first fixture migration: a table and an index, two statements in one file.
CREATE TABLE widgets (
    id bigserial PRIMARY KEY,
    name text NOT NULL
);
CREATE INDEX widgets_name ON widgets (name);
