-- Ids and keys compare byte by byte (`COLLATE "C"`), whatever the database's default collation.
--
-- Every transition inserts index entries keyed by text: the event's (saga_id, sequence), the
-- consumed message id, timer ids, and on a non-HOT snapshot update every index of `sagas`. Under a
-- linguistic collation (en_US.UTF-8, ICU), each comparison on the way down a B-tree copies both
-- strings and runs the collation's rules; under "C" it is a memcmp. On a database whose default is
-- ICU en-US, PlaceOrder sagas cost Postgres 15 % more CPU than under "C" (docs/benchmarks-e2e.md,
-- session 18). Ids are opaque, so their order only has to be consistent; business keys gain too: a
-- `LIKE 'prefix%'` can use their index under "C". Every text column of an index in the store is
-- "C" after this (`StoreCollationTests` keeps it so).
--
-- Changing a column's collation rewrites no table, but rebuilds the indexes that contain it, under
-- an `ACCESS EXCLUSIVE` lock: on a large saga log, run `skald migrate` in a quiet window (the lock
-- is given up after 10 s if it cannot be had; the rebuild itself is not limited). Not a contract
-- migration: earlier versions run unchanged on the result.
SET LOCAL lock_timeout = '10s';
ALTER TABLE saga_events ALTER COLUMN saga_id TYPE text COLLATE "C";
ALTER TABLE sagas ALTER COLUMN saga_id TYPE text COLLATE "C",
                  ALTER COLUMN saga_type TYPE text COLLATE "C",
                  ALTER COLUMN status TYPE text COLLATE "C",
                  ALTER COLUMN business_key TYPE text COLLATE "C";
ALTER TABLE inbox ALTER COLUMN message_id TYPE text COLLATE "C";
ALTER TABLE timers ALTER COLUMN timer_id TYPE text COLLATE "C",
                   ALTER COLUMN saga_id TYPE text COLLATE "C";
ALTER TABLE correlations ALTER COLUMN saga_type TYPE text COLLATE "C",
                         ALTER COLUMN correlation_key TYPE text COLLATE "C",
                         ALTER COLUMN saga_id TYPE text COLLATE "C";
ALTER TABLE projections ALTER COLUMN name TYPE text COLLATE "C";
ALTER TABLE projection_positions ALTER COLUMN projection TYPE text COLLATE "C",
                                 ALTER COLUMN saga_id TYPE text COLLATE "C";
ALTER TABLE audit_log ALTER COLUMN saga_id TYPE text COLLATE "C";
ALTER TABLE dead_letters ALTER COLUMN saga_id TYPE text COLLATE "C",
                         ALTER COLUMN source_topic TYPE text COLLATE "C";
