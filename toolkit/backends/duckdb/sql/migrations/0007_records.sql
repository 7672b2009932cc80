-- 0007: who finished an item (the worker that held its claim), so a session that died
-- can be closed later with the counts it really did; sessions count their skipped items.
ALTER TABLE batch_job_items ADD COLUMN finished_by VARCHAR;
ALTER TABLE sessions ADD COLUMN skipped INTEGER NOT NULL DEFAULT 0;
