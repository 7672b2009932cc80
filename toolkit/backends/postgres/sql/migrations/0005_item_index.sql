-- 0005: look items up by item_id through a hash index instead of a btree on
-- (job_id, item_id).
--
-- Every claim and every finish rewrites an item row (its status changes), and
-- each rewrite adds an entry to every index on the table. Item ids are random
-- text (property UUIDs), so each btree entry landed on a random leaf page; a
-- hash entry costs one hash and one bucket. Measured with one worker on 20,000
-- items: the claim and finish functions each ~25 % faster
-- (benchmarks/bench_postgres.py). Lookups by item (update_batch_progress,
-- retries) are equality lookups, which a hash index serves.
DROP INDEX IF EXISTS batch_job_items_item;
CREATE INDEX batch_job_items_item_hash ON batch_job_items USING hash (item_id);
