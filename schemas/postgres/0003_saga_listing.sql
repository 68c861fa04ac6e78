-- The admin API lists sagas newest first, ten to a thousand at a time, filtered or not
-- (`GET /api/v1/sagas`, keyset pages on (created_at, saga_id)). With only the status and
-- type indexes, a listing without a status read the whole table and sorted it for every page.
-- `created_at` and `saga_id` never change after the insert, so this index costs one entry per
-- saga and keeps the snapshot's updates heap-only (0002).
CREATE INDEX sagas_by_created ON sagas (created_at DESC, saga_id DESC);
