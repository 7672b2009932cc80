-- The DuckDB engine's own statements (toolkit/backends/duckdb/engine.py): the guide's
-- lifecycle rules in Python over these. Values are always bound (?); identifiers
-- ({view}) go through toolkit.sql.quote_ident.

-- name: job_ids_like
SELECT id::VARCHAR AS id FROM batch_jobs WHERE id::VARCHAR LIKE ? ORDER BY created_at DESC LIMIT 5;

-- name: job_insert
INSERT INTO batch_jobs (id, job_type, county_id, batch_size, strategy, status, total_items,
                        total_batches, max_consecutive_failures, created_by, created_at, updated_at)
VALUES (?::UUID, ?, ?, ?, ?, 'pending', 0, 0, ?, ?, ?, ?);

-- name: job_set_totals
UPDATE batch_jobs SET total_items = ?, total_batches = ? WHERE id = ?::UUID;

-- name: jobs_active_same
SELECT id::VARCHAR AS id, status FROM batch_jobs
WHERE job_type = ? AND county_id IS NOT DISTINCT FROM ? AND status IN ('pending', 'in_progress', 'paused');

-- name: job_start
UPDATE batch_jobs SET status = 'in_progress', started_at = COALESCE(started_at, ?), updated_at = ?
WHERE id = ?::UUID;

-- name: job_pause
UPDATE batch_jobs SET status = 'paused', paused_at = ?, pause_reason = ?, updated_at = ?
WHERE id = ?::UUID;

-- name: job_resume
UPDATE batch_jobs SET status = 'in_progress', pause_reason = NULL, consecutive_failures = 0, updated_at = ?
WHERE id = ?::UUID;

-- name: job_complete
UPDATE batch_jobs SET status = 'completed', completed_at = ?, pause_reason = NULL, updated_at = ?
WHERE id = ?::UUID;

-- name: job_cancel
UPDATE batch_jobs SET status = 'cancelled', cancelled_at = ?, updated_at = ? WHERE id = ?::UUID;

-- name: job_next_batch_number
-- the batch of the furthest item handed out: claims handed back and claimed again (a
-- pause, a resume) do not count twice, and it never passes the total
UPDATE batch_jobs SET current_batch = greatest(current_batch, least(total_batches, ?)), updated_at = ?
WHERE id = ?::UUID;

-- name: job_add_counts
-- consecutive failures: with a success in the batch, the failures after the last
-- success; without one, the old count plus this batch's failures.
UPDATE batch_jobs
SET processed_items = processed_items + ?, failed_items = failed_items + ?, skipped_items = skipped_items + ?,
    consecutive_failures = CASE WHEN ? THEN ? ELSE consecutive_failures + ? END,
    last_error = COALESCE(?, last_error), last_item_id = COALESCE(?, last_item_id),
    current_batch = greatest(current_batch, least(total_batches, ?)), updated_at = ?
WHERE id = ?::UUID
RETURNING status, consecutive_failures, max_consecutive_failures, total_items,
          processed_items + failed_items + skipped_items AS finished, current_batch;

-- name: event_insert
INSERT INTO batch_events (job_id, event, detail, worker, occurred_at) VALUES (?::UUID, ?, ?, ?, ?);


-- name: items_snapshot_county
-- the last parameter: the job type whose active jobs' unfinished items are left out
-- (NULL: take them too)
INSERT INTO batch_job_items (job_id, seq, item_id, county_id)
SELECT ?::UUID, row_number() OVER (ORDER BY county_name, sort_key, item_id) - 1, item_id, county_id
FROM {view} WHERE (?::INTEGER IS NULL OR county_id = ?::INTEGER)
  AND item_id NOT IN (SELECT i.item_id FROM batch_job_items i JOIN batch_jobs j ON j.id = i.job_id
                      WHERE j.job_type = ? AND j.status IN ('pending', 'in_progress', 'paused')
                        AND i.status IN ('pending', 'claimed'));

-- name: items_snapshot_round_robin
INSERT INTO batch_job_items (job_id, seq, item_id, county_id)
SELECT ?::UUID, row_number() OVER (ORDER BY chunk, county_name, sort_key, item_id) - 1, item_id, county_id
FROM (SELECT *, (row_number() OVER (PARTITION BY county_id ORDER BY sort_key, item_id) - 1) // ? AS chunk
      FROM {view} WHERE (?::INTEGER IS NULL OR county_id = ?::INTEGER)
        AND item_id NOT IN (SELECT i.item_id FROM batch_job_items i JOIN batch_jobs j ON j.id = i.job_id
                            WHERE j.job_type = ? AND j.status IN ('pending', 'in_progress', 'paused')
                              AND i.status IN ('pending', 'claimed')));

-- name: items_snapshot_auction_date
INSERT INTO batch_job_items (job_id, seq, item_id, county_id)
SELECT ?::UUID, row_number() OVER (ORDER BY sale_date NULLS LAST, county_name, sort_key, item_id) - 1,
       item_id, county_id
FROM {view} WHERE (?::INTEGER IS NULL OR county_id = ?::INTEGER)
  AND item_id NOT IN (SELECT i.item_id FROM batch_job_items i JOIN batch_jobs j ON j.id = i.job_id
                      WHERE j.job_type = ? AND j.status IN ('pending', 'in_progress', 'paused')
                        AND i.status IN ('pending', 'claimed'));

-- name: items_count
SELECT count(*) FROM batch_job_items WHERE job_id = ?::UUID;

-- name: items_claimers
SELECT DISTINCT claimed_by FROM batch_job_items WHERE job_id = ?::UUID AND status = 'claimed';

-- name: items_release_stale
UPDATE batch_job_items SET status = 'pending', claimed_by = NULL, lease_expires_at = NULL
WHERE job_id = ?::UUID AND status = 'claimed' AND (lease_expires_at < ? OR list_contains(?::VARCHAR[], claimed_by));

-- name: items_release_own
UPDATE batch_job_items SET status = 'pending', claimed_by = NULL, lease_expires_at = NULL
WHERE job_id = ?::UUID AND status = 'claimed' AND claimed_by = ?;

-- name: items_renew_own
UPDATE batch_job_items SET lease_expires_at = ?
WHERE job_id = ?::UUID AND status = 'claimed' AND claimed_by = ?;

-- name: items_own_claims
SELECT seq, item_id FROM batch_job_items
WHERE job_id = ?::UUID AND status = 'claimed' AND claimed_by = ? ORDER BY seq LIMIT ?;

-- name: items_claim_new
UPDATE batch_job_items SET status = 'claimed', claimed_by = ?, lease_expires_at = ?, started_at = ?,
       attempts = attempts + 1
WHERE job_id = ?::UUID AND seq IN (
    SELECT seq FROM batch_job_items WHERE job_id = ?::UUID AND status = 'pending' ORDER BY seq LIMIT ?)
RETURNING seq, item_id;

-- name: job_batch_number_back
-- claims handed back in the transaction that numbered them: the number they raised goes back
UPDATE batch_jobs SET current_batch = ? WHERE id = ?::UUID AND current_batch = ?;

-- name: items_unclaim
UPDATE batch_job_items SET status = 'pending', claimed_by = NULL, lease_expires_at = NULL
WHERE job_id = ?::UUID AND claimed_by = ? AND status = 'claimed' AND list_contains(?::INTEGER[], seq);

-- name: items_set_outcomes
-- params: finished_at, seqs[], statuses[], errors[], job_id, min seq, max seq
UPDATE batch_job_items AS i
SET status = o.status, error = o.error, finished_at = ?, finished_by = i.claimed_by,
    claimed_by = NULL, lease_expires_at = NULL
FROM (SELECT unnest(?::INTEGER[]) AS seq, unnest(?::VARCHAR[]) AS status, unnest(?::VARCHAR[]) AS error) AS o
WHERE i.job_id = ?::UUID AND i.seq BETWEEN ? AND ? AND i.seq = o.seq AND i.status IN ('pending', 'claimed')
RETURNING i.seq, i.status;

-- name: items_unfinished
SELECT count(*) FROM batch_job_items WHERE job_id = ?::UUID AND status IN ('pending', 'claimed');

-- name: items_retry_failed
UPDATE batch_job_items SET status = 'pending', error = NULL, finished_at = NULL
WHERE job_id = ?::UUID AND status = 'failed';

-- name: job_after_retry
UPDATE batch_jobs SET failed_items = failed_items - ?, consecutive_failures = 0, updated_at = ?
WHERE id = ?::UUID;

-- name: job_reopen_for_retry
UPDATE batch_jobs SET status = 'paused', completed_at = NULL, paused_at = ?, pause_reason = ?, updated_at = ?
WHERE id = ?::UUID;


-- name: items_held_elsewhere
-- eligible items in the scope that unfinished items of other active jobs of the type hold
SELECT count(*) AS n, string_agg(DISTINCT left(j.id::VARCHAR, 8), ', ') AS jobs
FROM {view} v
JOIN batch_job_items i ON i.item_id = v.item_id AND i.status IN ('pending', 'claimed')
JOIN batch_jobs j ON j.id = i.job_id AND j.job_type = ? AND j.status IN ('pending', 'in_progress', 'paused')
WHERE (?::INTEGER IS NULL OR v.county_id = ?::INTEGER);
