-- The Postgres engine's own statements besides the PL/pgSQL functions (functions.sql).

-- name: items_release_own
UPDATE batch_job_items SET status = 'pending', claimed_by = NULL, lease_expires_at = NULL
WHERE job_id = %s::UUID AND status = 'claimed' AND claimed_by = %s;

