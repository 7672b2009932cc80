-- The guide's lifecycle rules as plpgsql functions: the one implementation of the
-- rules on Postgres. toolkit.jobs.pg_engine (the Python API, sessions, workers)
-- calls the tk_* functions; psql users call the guide's functions at the end of
-- this file, which call the same tk_* functions.
--
-- Errors carry a toolkit SQLSTATE so the Python side raises the matching
-- exception: TKVAL ValidationError, TKBSZ InvalidBatchSizeError, TKNFD
-- JobNotFoundError, TKTRN InvalidTransitionError, TKPAU JobPausedError,
-- TKACT ActiveJobExistsError, TKTYP UnknownJobTypeError.
--
-- Times are UTC TIMESTAMP (no zone). Every function takes p_now; NULL means the
-- server clock, so leases from workers on several machines share one clock.
-- Rebuilt (CREATE OR REPLACE) by the store whenever this file changes.

-- DuckDB spellings, so SQL written for one backend runs on the other
-- (ws.sql(...) in notebooks and tests): list_contains(list, x), CAST(x AS DOUBLE).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'double' AND typnamespace = current_schema()::regnamespace) THEN
        CREATE DOMAIN double AS DOUBLE PRECISION;
    END IF;
END $$;

CREATE OR REPLACE FUNCTION list_contains(anyarray, anyelement) RETURNS BOOLEAN
LANGUAGE sql IMMUTABLE AS $$ SELECT $2 = ANY($1) $$;

CREATE OR REPLACE FUNCTION tk_now(p_now TIMESTAMP) RETURNS TIMESTAMP
LANGUAGE sql VOLATILE AS $$ SELECT COALESCE(p_now, (clock_timestamp() AT TIME ZONE 'UTC')::TIMESTAMP) $$;

CREATE OR REPLACE FUNCTION tk_uuid_or_null(p TEXT) RETURNS UUID
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN p::UUID END
$$;

CREATE OR REPLACE FUNCTION tk_event(p_job UUID, p_event TEXT, p_detail TEXT, p_worker TEXT,
                                    p_now TIMESTAMP) RETURNS VOID
LANGUAGE sql AS $$
    INSERT INTO batch_events (job_id, event, detail, worker, occurred_at)
    VALUES (p_job, p_event, p_detail, p_worker, tk_now(p_now))
$$;

-- A job id: a UUID, or a unique prefix of one (>= 4 characters).
CREATE OR REPLACE FUNCTION tk_resolve_job(p_job TEXT) RETURNS UUID
LANGUAGE plpgsql STABLE AS $$
DECLARE
    t TEXT := lower(btrim(COALESCE(p_job, '')));
    ids UUID[];
    active TEXT;
BEGIN
    IF t !~ '^[0-9a-f-]{4,36}$' THEN
        RAISE EXCEPTION 'Malformed job id %: expected a UUID like ''1b4e28ba-2fa1-11d2-883f-0016d3cca427'' (or its first 8 characters).', quote_literal(COALESCE(p_job, 'NULL'))
            USING ERRCODE = 'TKNFD';
    END IF;
    IF t ~ '^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$' THEN
        SELECT array_agg(id) INTO ids FROM batch_jobs WHERE id = t::UUID;
    ELSE
        SELECT array_agg(id) INTO ids FROM (
            SELECT id FROM batch_jobs WHERE id::TEXT LIKE t || '%' ORDER BY created_at DESC LIMIT 5) s;
    END IF;
    IF COALESCE(cardinality(ids), 0) = 1 THEN
        RETURN ids[1];
    END IF;
    IF cardinality(ids) > 1 THEN
        RAISE EXCEPTION 'Job id prefix % matches several jobs: %.', quote_literal(p_job),
            array_to_string(ids, ', ') USING ERRCODE = 'TKNFD';
    END IF;
    SELECT string_agg(format('%s (%s, %s)', id, job_type, status), ', ') INTO active FROM (
        SELECT id, job_type, status FROM batch_jobs
        WHERE status IN ('pending', 'in_progress', 'paused') ORDER BY updated_at DESC LIMIT 5) a;
    RAISE EXCEPTION 'No batch job with id %. Active jobs: %.', quote_literal(p_job), COALESCE(active, 'none')
        USING ERRCODE = 'TKNFD';
END $$;

-- Creating: the work list is snapshotted from the type's eligibility view, in the
-- strategy's order, in one INSERT … SELECT.
-- Items other active jobs of the type still hold (pending or claimed there) are left to
-- them unless p_take_held.
DROP FUNCTION IF EXISTS tk_create_job(TEXT, INTEGER, INTEGER, TEXT, BOOLEAN, INTEGER, TEXT, TIMESTAMP);
DROP FUNCTION IF EXISTS tk_create_job(TEXT, INTEGER, INTEGER, TEXT, BOOLEAN, INTEGER, TEXT, TIMESTAMP,
                                      BOOLEAN);
CREATE FUNCTION tk_create_job(p_job_type TEXT, p_county_id INTEGER, p_batch_size INTEGER,
                              p_strategy TEXT, p_force BOOLEAN,
                              p_max_failures INTEGER, p_worker TEXT, p_now TIMESTAMP,
                              p_take_held BOOLEAN DEFAULT FALSE)
RETURNS TABLE (job_id UUID, total_items INTEGER, held INTEGER, held_by TEXT)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    jt job_types%ROWTYPE;
    same TEXT;
    jid UUID := gen_random_uuid();
    n INTEGER;
    ts TIMESTAMP := tk_now(p_now);
    size INTEGER;
    view_name TEXT;
    noun TEXT;
    n_held INTEGER := 0;
    held_jobs TEXT;
    leave TEXT := CASE WHEN COALESCE(p_take_held, FALSE) THEN NULL ELSE p_job_type END;
BEGIN
    SELECT * INTO jt FROM job_types WHERE job_types.job_type = p_job_type;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'Unknown job type %. Valid choices: %.', quote_literal(p_job_type),
            (SELECT string_agg(t.job_type, ', ' ORDER BY t.job_type) FROM job_types t) USING ERRCODE = 'TKTYP';
    END IF;
    size := COALESCE(p_batch_size, jt.batch_size);
    IF size < 1 THEN
        RAISE EXCEPTION 'Batch size % must be at least 1 (the guide recommends % for %).', size,
            jt.batch_size, jt.job_type USING ERRCODE = 'TKBSZ';
    END IF;
    IF COALESCE(p_strategy, 'county') NOT IN ('county', 'round_robin', 'auction_date') THEN
        RAISE EXCEPTION 'Unknown ordering strategy %. Valid choices: auction_date, county, round_robin.',
            quote_literal(p_strategy) USING ERRCODE = 'TKVAL';
    END IF;
    IF p_county_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM counties WHERE id = p_county_id) THEN
        RAISE EXCEPTION 'Unknown county id %.', p_county_id USING ERRCODE = 'TKVAL';
    END IF;
    IF COALESCE(p_max_failures, 10) < 1 THEN
        RAISE EXCEPTION 'max_consecutive_failures % must be an integer >= 1.', p_max_failures USING ERRCODE = 'TKVAL';
    END IF;
    -- one creator at a time per type, so two racing creators cannot both pass the check
    PERFORM pg_advisory_xact_lock(hashtext('toolkit create ' || p_job_type));
    SELECT string_agg(format('%s (%s)', b.id, b.status), ', ') INTO same FROM batch_jobs b
    WHERE b.job_type = p_job_type AND b.county_id IS NOT DISTINCT FROM p_county_id
      AND b.status IN ('pending', 'in_progress', 'paused');
    IF same IS NOT NULL AND NOT COALESCE(p_force, FALSE) THEN
        RAISE EXCEPTION 'A % job for this county is already active: %. Resume it (''Resume batch job''), cancel it, or start another anyway: toolkit start % --force.',
            p_job_type, same, p_job_type USING ERRCODE = 'TKACT';
    END IF;
    INSERT INTO batch_jobs (id, job_type, county_id, batch_size, strategy, status, total_items,
                            total_batches, max_consecutive_failures, created_by, created_at, updated_at)
    VALUES (jid, p_job_type, p_county_id, size, COALESCE(p_strategy, 'county'), 'pending', 0, 0,
            COALESCE(p_max_failures, 10), p_worker, ts, ts);
    view_name := quote_ident('eligible_' || p_job_type);
    EXECUTE format(
        'SELECT count(*)::INTEGER, string_agg(DISTINCT left(j.id::TEXT, 8), '', '')
         FROM %s v
         JOIN batch_job_items i ON i.item_id = v.item_id AND i.status IN (''pending'', ''claimed'')
         JOIN batch_jobs j ON j.id = i.job_id AND j.job_type = $1
                          AND j.status IN (''pending'', ''in_progress'', ''paused'') AND j.id <> $3
         WHERE ($2::INTEGER IS NULL OR v.county_id = $2)', view_name)
        INTO n_held, held_jobs USING p_job_type, p_county_id, jid;
    IF COALESCE(p_strategy, 'county') = 'round_robin' THEN
        EXECUTE format(
            'INSERT INTO batch_job_items (job_id, seq, item_id, county_id)
             SELECT $1, row_number() OVER (ORDER BY chunk, county_name, sort_key, item_id) - 1, item_id, county_id
             FROM (SELECT *, (row_number() OVER (PARTITION BY county_id ORDER BY sort_key, item_id) - 1) / $2 AS chunk
                   FROM %s WHERE ($3::INTEGER IS NULL OR county_id = $3)
                     AND item_id NOT IN (SELECT i.item_id FROM batch_job_items i JOIN batch_jobs j ON j.id = i.job_id
                                         WHERE j.job_type = $4 AND j.status IN (''pending'', ''in_progress'', ''paused'')
                                           AND i.status IN (''pending'', ''claimed''))) AS chunked', view_name)
            USING jid, size, p_county_id, leave;
    ELSIF p_strategy = 'auction_date' THEN
        EXECUTE format(
            'INSERT INTO batch_job_items (job_id, seq, item_id, county_id)
             SELECT $1, row_number() OVER (ORDER BY sale_date NULLS LAST, county_name, sort_key, item_id) - 1,
                    item_id, county_id
             FROM %s WHERE ($2::INTEGER IS NULL OR county_id = $2)
               AND item_id NOT IN (SELECT i.item_id FROM batch_job_items i JOIN batch_jobs j ON j.id = i.job_id
                                   WHERE j.job_type = $3 AND j.status IN (''pending'', ''in_progress'', ''paused'')
                                     AND i.status IN (''pending'', ''claimed''))', view_name)
            USING jid, p_county_id, leave;
    ELSE
        EXECUTE format(
            'INSERT INTO batch_job_items (job_id, seq, item_id, county_id)
             SELECT $1, row_number() OVER (ORDER BY county_name, sort_key, item_id) - 1, item_id, county_id
             FROM %s WHERE ($2::INTEGER IS NULL OR county_id = $2)
               AND item_id NOT IN (SELECT i.item_id FROM batch_job_items i JOIN batch_jobs j ON j.id = i.job_id
                                   WHERE j.job_type = $3 AND j.status IN (''pending'', ''in_progress'', ''paused'')
                                     AND i.status IN (''pending'', ''claimed''))', view_name)
            USING jid, p_county_id, leave;
    END IF;
    GET DIAGNOSTICS n = ROW_COUNT;
    -- Fresh statistics for the new items: without them the planner takes a job's
    -- 100 outcomes for a 1-row join and rescans every item of the job per batch
    -- (measured: 5 ms per batch at 20,000 items, growing with the job).
    IF n > 0 THEN
        ANALYZE batch_job_items;
    END IF;
    UPDATE batch_jobs SET total_items = n, total_batches = ceil(n::NUMERIC / size)::INTEGER WHERE id = jid;
    noun := CASE jt.item_kind WHEN 'property' THEN 'properties' WHEN 'document' THEN 'documents'
                              WHEN 'county' THEN 'counties' ELSE 'items' END;
    PERFORM tk_event(jid, 'created', n || ' ' || noun, p_worker, ts);
    IF n = 0 THEN
        UPDATE batch_jobs SET status = 'completed', completed_at = ts, updated_at = ts WHERE id = jid;
        PERFORM tk_event(jid, 'completed', 'nothing to do', p_worker, ts);
    END IF;
    IF leave IS NULL THEN
        n_held := 0;
        held_jobs := NULL;
    END IF;
    RETURN QUERY SELECT jid, n, COALESCE(n_held, 0), held_jobs;
END $$;

-- Claims of dead workers (named by the caller, who can tell for its own host) and
-- expired leases go back to pending. SKIP LOCKED: never wait on a live worker's rows.
-- (Cached plans here, not the custom ones its caller tk_cycle forces: its
-- statements only use the job's claimed index whatever the statistics, and it
-- runs before every claim.)
CREATE OR REPLACE FUNCTION tk_release_stale(p_job UUID, p_dead TEXT[], p_now TIMESTAMP) RETURNS INTEGER
LANGUAGE plpgsql SET plan_cache_mode = auto AS $$
DECLARE
    n INTEGER;
BEGIN
    IF COALESCE(cardinality(p_dead), 0) = 0 THEN
        -- the usual case (every batch): a range on the claimed index, most often empty
        WITH stale AS (
            SELECT seq FROM batch_job_items
            WHERE job_id = p_job AND status = 'claimed' AND lease_expires_at < tk_now(p_now)
            FOR UPDATE SKIP LOCKED)
        UPDATE batch_job_items i SET status = 'pending', claimed_by = NULL, lease_expires_at = NULL
        FROM stale WHERE i.job_id = p_job AND i.seq = stale.seq;
    ELSE
        WITH stale AS (
            SELECT seq FROM batch_job_items
            WHERE job_id = p_job AND status = 'claimed'
              AND (lease_expires_at < tk_now(p_now) OR claimed_by = ANY(p_dead))
            FOR UPDATE SKIP LOCKED)
        UPDATE batch_job_items i SET status = 'pending', claimed_by = NULL, lease_expires_at = NULL
        FROM stale WHERE i.job_id = p_job AND i.seq = stale.seq;
    END IF;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

CREATE OR REPLACE FUNCTION tk_check_workable(p_id UUID, p_status TEXT, p_reason TEXT) RETURNS VOID
LANGUAGE plpgsql AS $$
BEGIN
    IF p_status = 'paused' THEN
        RAISE EXCEPTION 'Job % is paused%. Resume it first: toolkit resume % (or ''Resume batch job'').',
            p_id, CASE WHEN p_reason IS NULL THEN '' ELSE ' (' || p_reason || ')' END, left(p_id::TEXT, 8)
            USING ERRCODE = 'TKPAU';
    ELSIF p_status IN ('completed', 'cancelled') THEN
        RAISE EXCEPTION 'Job % is %; it has no more batches. Start a new job for the remaining work (toolkit start …).',
            p_id, p_status USING ERRCODE = 'TKTRN';
    END IF;
END $$;

-- The claim itself (no job row): the worker's own open claims first (when
-- p_own_first), then the lowest pending seqs, taken with FOR UPDATE SKIP LOCKED
-- so many workers claim at once without waiting on each other.
CREATE OR REPLACE FUNCTION tk_claim_items(p_job UUID, p_worker TEXT, p_lease TIMESTAMP, p_size INTEGER,
                                          p_own_first BOOLEAN, p_ts TIMESTAMP)
RETURNS TABLE (seq INTEGER, item_id TEXT, fresh BOOLEAN)
LANGUAGE plpgsql SET plan_cache_mode = force_custom_plan SET random_page_cost = 1.1 AS $$
#variable_conflict use_column
DECLARE
    n_own INTEGER := 0;
BEGIN
    -- rows come back own claims first, then new ones; each part in seq order
    IF p_own_first THEN
        RETURN QUERY
        WITH own AS (
            UPDATE batch_job_items i SET lease_expires_at = p_lease
            WHERE i.job_id = p_job AND i.status = 'claimed' AND i.claimed_by = p_worker
              AND i.seq IN (SELECT o.seq FROM batch_job_items o
                            WHERE o.job_id = p_job AND o.status = 'claimed' AND o.claimed_by = p_worker
                            ORDER BY o.seq LIMIT p_size)
            RETURNING i.seq, i.item_id)
        SELECT own.seq, own.item_id, FALSE FROM own ORDER BY own.seq;
        GET DIAGNOSTICS n_own = ROW_COUNT;
    END IF;
    IF n_own < p_size THEN
        RETURN QUERY
        WITH picked AS (
            SELECT p.seq FROM batch_job_items p
            WHERE p.job_id = p_job AND p.status = 'pending'
            ORDER BY p.seq LIMIT p_size - n_own
            FOR UPDATE SKIP LOCKED),
        claimed AS (
            UPDATE batch_job_items i
            SET status = 'claimed', claimed_by = p_worker, lease_expires_at = p_lease, started_at = p_ts,
                attempts = i.attempts + 1
            FROM picked WHERE i.job_id = p_job AND i.seq = picked.seq
            RETURNING i.seq, i.item_id)
        SELECT claimed.seq, claimed.item_id, TRUE FROM claimed ORDER BY claimed.seq;
    END IF;
END $$;

-- Up to p_limit items (default: the batch size): the worker's own open claims
-- first, then the lowest pending seqs (tk_claim_items). A completed job has
-- nothing left to hand out.
CREATE OR REPLACE FUNCTION tk_claim_batch(p_job UUID, p_worker TEXT, p_lease_seconds DOUBLE PRECISION,
                                          p_limit INTEGER, p_release BOOLEAN, p_dead TEXT[],
                                          p_own_first BOOLEAN, p_now TIMESTAMP)
RETURNS TABLE (seq INTEGER, item_id TEXT)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    j batch_jobs%ROWTYPE;
    ts TIMESTAMP := tk_now(p_now);
    size INTEGER;
    n_new INTEGER := 0;
    max_fresh INTEGER := -1;
    r RECORD;
BEGIN
    SELECT * INTO j FROM batch_jobs WHERE id = p_job;
    IF NOT FOUND THEN
        PERFORM tk_resolve_job(p_job::TEXT);
    END IF;
    IF j.status = 'completed' THEN
        RETURN;
    END IF;
    PERFORM tk_check_workable(j.id, j.status, j.pause_reason);
    IF j.status = 'pending' THEN
        UPDATE batch_jobs SET status = 'in_progress', started_at = COALESCE(started_at, ts), updated_at = ts
        WHERE id = p_job AND status = 'pending';
        IF FOUND THEN
            PERFORM tk_event(p_job, 'started', NULL, p_worker, ts);
        END IF;
    END IF;
    IF COALESCE(p_release, TRUE) THEN
        PERFORM tk_release_stale(p_job, p_dead, ts);
    END IF;
    size := CASE WHEN p_limit IS NULL THEN j.batch_size ELSE greatest(0, least(p_limit, j.batch_size)) END;
    FOR r IN SELECT c.seq, c.item_id, c.fresh FROM tk_claim_items(
        p_job, p_worker, ts + make_interval(secs => p_lease_seconds), size, COALESCE(p_own_first, TRUE), ts) AS c
    LOOP
        seq := r.seq; item_id := r.item_id;
        RETURN NEXT;
        n_new := n_new + r.fresh::INTEGER;
        IF r.fresh THEN max_fresh := greatest(max_fresh, r.seq); END IF;
    END LOOP;
    -- the batch number is the batch of the furthest item handed out: claims handed back
    -- and claimed again (a pause, a resume) do not count twice, and it never passes the total
    IF n_new > 0 THEN
        UPDATE batch_jobs SET current_batch = greatest(current_batch, least(total_batches, max_fresh / j.batch_size + 1)),
            updated_at = ts WHERE id = p_job;
    END IF;
END $$;

-- (force_custom_plan on the hot functions: a generic plan made while the
-- items table has no statistics yet would scan every item of the job.)

-- Item outcomes, in three parts so a session can lock the job's counter row
-- last, just before its commit (see tk_cycle): every worker updates that row
-- once per batch, so whatever runs after the update while the row is locked
-- is time the other workers wait.

-- The items' statuses: items finished already are left as they are; returns the
-- seqs that changed (the caller writes result rows for those, in the same transaction).
CREATE OR REPLACE FUNCTION tk_record_items(p_job UUID, p_seqs INTEGER[], p_statuses TEXT[],
                                           p_errors TEXT[], p_now TIMESTAMP)
RETURNS INTEGER[]
LANGUAGE plpgsql SET plan_cache_mode = force_custom_plan SET random_page_cost = 1.1 AS $$
DECLARE
    ts TIMESTAMP := tk_now(p_now);
    done_seqs INTEGER[];
BEGIN
    IF COALESCE(cardinality(p_seqs), 0) = 0 THEN
        RETURN '{}';
    END IF;
    -- a join on the primary key: one index probe per outcome, whatever the job's size
    WITH upd AS (
        UPDATE batch_job_items i
        SET status = o.status, error = o.error, finished_at = ts, finished_by = i.claimed_by,
            claimed_by = NULL, lease_expires_at = NULL
        FROM unnest(p_seqs, p_statuses, p_errors) AS o(seq, status, error)
        WHERE i.job_id = p_job AND i.seq = o.seq AND i.status IN ('pending', 'claimed')
        RETURNING i.seq)
    SELECT array_agg(upd.seq) INTO done_seqs FROM upd;
    RETURN COALESCE(done_seqs, '{}');
END $$;

-- Counters, the failure rule and completion for outcomes already applied to the
-- items (arrays in the order the items were worked). p_new_batches: the batch number
-- of the furthest item the caller just handed out (0: none).
CREATE OR REPLACE FUNCTION tk_apply_counts(p_job UUID, p_item_ids TEXT[], p_statuses TEXT[],
                                           p_errors TEXT[], p_worker TEXT,
                                           p_renew_seconds DOUBLE PRECISION, p_fatal TEXT,
                                           p_new_batches INTEGER, p_now TIMESTAMP)
RETURNS TABLE (status TEXT, consecutive INTEGER, auto_paused BOOLEAN, completed BOOLEAN, pause_reason TEXT)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    ts TIMESTAMP := tk_now(p_now);
    n_done INTEGER := 0;
    n_failed INTEGER := 0;
    n_skipped INTEGER := 0;
    any_done BOOLEAN := FALSE;
    n_trailing INTEGER := 0;
    last_err TEXT;
    last_item TEXT;
    st TEXT;
    cons INTEGER;
    lim INTEGER;
    total INTEGER;
    finished INTEGER;
    reason TEXT;
    auto BOOLEAN := FALSE;
    is_completed BOOLEAN := FALSE;
    k INTEGER;
BEGIN
    FOR k IN 1 .. COALESCE(cardinality(p_statuses), 0) LOOP
        last_item := p_item_ids[k];
        IF p_statuses[k] = 'done' THEN
            n_done := n_done + 1; any_done := TRUE; n_trailing := 0;
        ELSIF p_statuses[k] = 'failed' THEN
            n_failed := n_failed + 1; n_trailing := n_trailing + 1; last_err := p_errors[k];
        ELSE
            n_skipped := n_skipped + 1;
        END IF;
    END LOOP;
    IF p_worker IS NOT NULL AND p_renew_seconds IS NOT NULL AND p_renew_seconds > 0 THEN
        UPDATE batch_job_items SET lease_expires_at = ts + make_interval(secs => p_renew_seconds)
        WHERE job_id = p_job AND batch_job_items.status = 'claimed' AND claimed_by = p_worker;
    END IF;
    IF n_failed > 0 THEN
        INSERT INTO batch_events (job_id, event, detail, worker, occurred_at)
        SELECT p_job, 'item_failed', o.item_id || ': ' || o.error, p_worker, ts
        FROM unnest(p_item_ids, p_statuses, p_errors) WITH ORDINALITY AS o(item_id, status, error, n)
        WHERE o.status = 'failed' ORDER BY o.n;
    END IF;
    UPDATE batch_jobs b
    SET processed_items = processed_items + n_done, failed_items = failed_items + n_failed,
        skipped_items = skipped_items + n_skipped,
        consecutive_failures = CASE WHEN any_done THEN n_trailing ELSE consecutive_failures + n_failed END,
        last_error = COALESCE(last_err, last_error), last_item_id = COALESCE(last_item, last_item_id),
        current_batch = greatest(current_batch, least(total_batches, COALESCE(p_new_batches, 0))),
        updated_at = ts
    WHERE b.id = p_job
    RETURNING b.status, b.consecutive_failures, b.max_consecutive_failures, b.total_items,
              b.processed_items + b.failed_items + b.skipped_items
    INTO st, cons, lim, total, finished;
    IF NOT FOUND THEN
        PERFORM tk_resolve_job(p_job::TEXT);
    END IF;
    IF st = 'cancelled' AND COALESCE(cardinality(p_statuses), 0) > 0 THEN
        RAISE EXCEPTION 'Job % is cancelled; its progress can''t change.', p_job USING ERRCODE = 'TKTRN';
    END IF;
    IF st IN ('pending', 'in_progress') THEN
        IF p_fatal IS NOT NULL THEN
            reason := 'Paused at once: ' || p_fatal; auto := TRUE;
        ELSIF cons >= lim THEN
            reason := format('Auto-paused after %s consecutive failures; last error: %s', cons,
                             COALESCE(last_err, 'None'));
            auto := TRUE;
        END IF;
    END IF;
    IF auto THEN
        UPDATE batch_jobs SET status = 'paused', paused_at = ts, pause_reason = reason, updated_at = ts
        WHERE id = p_job;
        PERFORM tk_event(p_job, 'auto_paused', reason, p_worker, ts);
        st := 'paused';
    END IF;
    IF finished >= total AND st NOT IN ('completed', 'cancelled') THEN
        UPDATE batch_jobs SET status = 'completed', completed_at = ts, pause_reason = NULL, updated_at = ts
        WHERE id = p_job;
        PERFORM tk_event(p_job, 'completed', NULL, p_worker, ts);
        st := 'completed'; is_completed := TRUE; reason := NULL;
    END IF;
    RETURN QUERY SELECT st, cons, auto, is_completed, reason;
END $$;

-- Item outcomes, counters, the failure rule and completion, in one call (the
-- API's and update_batch_progress's way in).
CREATE OR REPLACE FUNCTION tk_record_outcomes(p_job UUID, p_seqs INTEGER[], p_item_ids TEXT[],
                                              p_statuses TEXT[], p_errors TEXT[], p_worker TEXT,
                                              p_renew_seconds DOUBLE PRECISION, p_fatal TEXT,
                                              p_new_batches INTEGER, p_now TIMESTAMP)
RETURNS TABLE (applied INTEGER[], status TEXT, consecutive INTEGER, auto_paused BOOLEAN,
               completed BOOLEAN, pause_reason TEXT)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    done_seqs INTEGER[] := tk_record_items(p_job, p_seqs, p_statuses, p_errors, p_now);
    r RECORD;
BEGIN
    SELECT * INTO r FROM tk_apply_counts(
        p_job,
        ARRAY(SELECT o.item_id FROM unnest(p_seqs, p_item_ids) WITH ORDINALITY AS o(seq, item_id, n)
              WHERE o.seq = ANY(done_seqs) ORDER BY o.n),
        ARRAY(SELECT o.status FROM unnest(p_seqs, p_statuses) WITH ORDINALITY AS o(seq, status, n)
              WHERE o.seq = ANY(done_seqs) ORDER BY o.n),
        ARRAY(SELECT o.error FROM unnest(p_seqs, p_errors) WITH ORDINALITY AS o(seq, error, n)
              WHERE o.seq = ANY(done_seqs) ORDER BY o.n),
        p_worker, p_renew_seconds, p_fatal, p_new_batches, p_now) AS a;
    RETURN QUERY SELECT done_seqs, r.status, r.consecutive, r.auto_paused, r.completed, r.pause_reason;
END $$;

-- A session's batch end, after tk_record_items and its result rows: claim the
-- next batch (items only, SKIP LOCKED), then update the job's counter row as the
-- last statement before the commit. If that update leaves the job not workable
-- (paused, auto-paused, cancelled, completed), the new claims go straight back.
CREATE OR REPLACE FUNCTION tk_cycle(p_job UUID, p_item_ids TEXT[], p_statuses TEXT[], p_errors TEXT[],
                                    p_worker TEXT, p_renew_seconds DOUBLE PRECISION, p_fatal TEXT,
                                    p_claim BOOLEAN, p_lease_seconds DOUBLE PRECISION, p_limit INTEGER,
                                    p_dead TEXT[], p_own_first BOOLEAN, p_now TIMESTAMP)
RETURNS TABLE (status TEXT, consecutive INTEGER, auto_paused BOOLEAN, completed BOOLEAN, pause_reason TEXT,
               claim_seqs INTEGER[], claim_ids TEXT[])
LANGUAGE plpgsql SET plan_cache_mode = force_custom_plan SET random_page_cost = 1.1 AS $$
#variable_conflict use_column
DECLARE
    ts TIMESTAMP := tk_now(p_now);
    j RECORD;
    r RECORD;
    seqs INTEGER[] := '{}';
    ids TEXT[] := '{}';
    n_new INTEGER := 0;
    max_fresh INTEGER := -1;
BEGIN
    IF p_claim AND p_fatal IS NULL THEN
        SELECT b.status, b.batch_size, b.current_batch INTO j FROM batch_jobs b WHERE b.id = p_job;
        IF j.status = 'pending' THEN
            UPDATE batch_jobs SET status = 'in_progress', started_at = COALESCE(started_at, ts), updated_at = ts
            WHERE id = p_job AND batch_jobs.status = 'pending';
            IF FOUND THEN
                PERFORM tk_event(p_job, 'started', NULL, p_worker, ts);
            END IF;
            j.status := 'in_progress';
        END IF;
        IF j.status = 'in_progress' THEN
            PERFORM tk_release_stale(p_job, p_dead, ts);
            SELECT COALESCE(array_agg(c.seq ORDER BY c.seq), '{}'), COALESCE(array_agg(c.item_id ORDER BY c.seq), '{}'),
                   count(*) FILTER (WHERE c.fresh), COALESCE(max(c.seq) FILTER (WHERE c.fresh), -1)
            INTO seqs, ids, n_new, max_fresh
            FROM tk_claim_items(p_job, p_worker, ts + make_interval(secs => p_lease_seconds),
                                CASE WHEN p_limit IS NULL THEN j.batch_size
                                     ELSE greatest(0, least(p_limit, j.batch_size)) END,
                                COALESCE(p_own_first, TRUE), ts) AS c;
        END IF;
    END IF;
    SELECT * INTO r FROM tk_apply_counts(p_job, p_item_ids, p_statuses, p_errors, p_worker, p_renew_seconds,
                                         p_fatal, CASE WHEN n_new > 0 THEN max_fresh / j.batch_size + 1 ELSE 0 END,
                                         ts) AS a;
    IF cardinality(seqs) > 0 AND r.status NOT IN ('pending', 'in_progress') THEN
        UPDATE batch_job_items i SET status = 'pending', claimed_by = NULL, lease_expires_at = NULL
        WHERE i.job_id = p_job AND i.seq = ANY(seqs) AND i.status = 'claimed' AND i.claimed_by = p_worker;
        -- the number these claims raised goes back with them
        IF n_new > 0 THEN
            UPDATE batch_jobs b SET current_batch = j.current_batch
            WHERE b.id = p_job AND b.current_batch = least(b.total_batches, max_fresh / j.batch_size + 1);
        END IF;
        seqs := '{}'; ids := '{}';
    END IF;
    RETURN QUERY SELECT r.status, r.consecutive, r.auto_paused, r.completed, r.pause_reason, seqs, ids;
END $$;

-- Transitions. Each locks the job row, checks the status it finds there, and
-- writes the change and its event.
CREATE OR REPLACE FUNCTION tk_pause(p_job UUID, p_reason TEXT, p_worker TEXT, p_now TIMESTAMP)
RETURNS VOID LANGUAGE plpgsql AS $$
DECLARE
    st TEXT;
    ts TIMESTAMP := tk_now(p_now);
BEGIN
    SELECT status INTO st FROM batch_jobs WHERE id = p_job FOR UPDATE;
    IF NOT FOUND THEN PERFORM tk_resolve_job(p_job::TEXT); END IF;
    IF st NOT IN ('pending', 'in_progress') THEN
        RAISE EXCEPTION 'Job % is %; only pending or in-progress jobs can be paused.', p_job, st
            USING ERRCODE = 'TKTRN';
    END IF;
    UPDATE batch_jobs SET status = 'paused', paused_at = ts, pause_reason = COALESCE(p_reason, 'paused by user'),
        updated_at = ts WHERE id = p_job;
    PERFORM tk_event(p_job, 'paused', p_reason, p_worker, ts);
END $$;

CREATE OR REPLACE FUNCTION tk_resume(p_job UUID, p_worker TEXT, p_dead TEXT[], p_now TIMESTAMP)
RETURNS VOID LANGUAGE plpgsql AS $$
DECLARE
    j batch_jobs%ROWTYPE;
    ts TIMESTAMP := tk_now(p_now);
BEGIN
    SELECT * INTO j FROM batch_jobs WHERE id = p_job FOR UPDATE;
    IF NOT FOUND THEN PERFORM tk_resolve_job(p_job::TEXT); END IF;
    IF j.status NOT IN ('paused', 'in_progress', 'pending') THEN
        RAISE EXCEPTION 'Job % is %; only paused or interrupted jobs can be resumed.', p_job, j.status
            USING ERRCODE = 'TKTRN';
    END IF;
    IF j.status = 'pending' THEN
        RETURN;
    END IF;
    PERFORM tk_release_stale(p_job, p_dead, ts);
    UPDATE batch_jobs SET status = 'in_progress', pause_reason = NULL, consecutive_failures = 0,
        started_at = COALESCE(started_at, ts), updated_at = ts WHERE id = p_job;
    PERFORM tk_event(p_job, 'resumed', NULL, p_worker, ts);
END $$;

CREATE OR REPLACE FUNCTION tk_complete(p_job UUID, p_worker TEXT, p_now TIMESTAMP)
RETURNS VOID LANGUAGE plpgsql SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    st TEXT;
    ts TIMESTAMP := tk_now(p_now);
    left_n INTEGER;
BEGIN
    SELECT status INTO st FROM batch_jobs WHERE id = p_job FOR UPDATE;
    IF NOT FOUND THEN PERFORM tk_resolve_job(p_job::TEXT); END IF;
    IF st = 'completed' THEN RETURN; END IF;
    IF st = 'cancelled' THEN
        RAISE EXCEPTION 'Job % is cancelled; it cannot be completed.', p_job USING ERRCODE = 'TKTRN';
    END IF;
    SELECT count(*) INTO left_n FROM batch_job_items WHERE job_id = p_job AND status IN ('pending', 'claimed');
    IF left_n > 0 THEN
        RAISE EXCEPTION 'Job % still has % unfinished item(s); finish them, or cancel the job.', p_job, left_n
            USING ERRCODE = 'TKTRN';
    END IF;
    UPDATE batch_jobs SET status = 'completed', completed_at = ts, pause_reason = NULL, updated_at = ts
    WHERE id = p_job;
    PERFORM tk_event(p_job, 'completed', NULL, p_worker, ts);
END $$;

CREATE OR REPLACE FUNCTION tk_cancel(p_job UUID, p_worker TEXT, p_now TIMESTAMP)
RETURNS VOID LANGUAGE plpgsql AS $$
DECLARE
    st TEXT;
    ts TIMESTAMP := tk_now(p_now);
BEGIN
    SELECT status INTO st FROM batch_jobs WHERE id = p_job FOR UPDATE;
    IF NOT FOUND THEN PERFORM tk_resolve_job(p_job::TEXT); END IF;
    IF st IN ('completed', 'cancelled') THEN
        RAISE EXCEPTION 'Job % is %; only active jobs can be cancelled.', p_job, st USING ERRCODE = 'TKTRN';
    END IF;
    UPDATE batch_jobs SET status = 'cancelled', cancelled_at = ts, updated_at = ts WHERE id = p_job;
    PERFORM tk_event(p_job, 'cancelled', NULL, p_worker, ts);
END $$;

CREATE OR REPLACE FUNCTION tk_retry_failed(p_job UUID, p_worker TEXT, p_now TIMESTAMP)
RETURNS INTEGER LANGUAGE plpgsql SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    st TEXT;
    ts TIMESTAMP := tk_now(p_now);
    n INTEGER;
BEGIN
    SELECT status INTO st FROM batch_jobs WHERE id = p_job FOR UPDATE;
    IF NOT FOUND THEN PERFORM tk_resolve_job(p_job::TEXT); END IF;
    IF st = 'cancelled' THEN
        RAISE EXCEPTION 'Job % is cancelled; start a new job instead.', p_job USING ERRCODE = 'TKTRN';
    END IF;
    UPDATE batch_job_items SET status = 'pending', error = NULL, finished_at = NULL
    WHERE job_id = p_job AND status = 'failed';
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN
        UPDATE batch_jobs SET failed_items = failed_items - n, consecutive_failures = 0, updated_at = ts
        WHERE id = p_job;
        IF st = 'completed' THEN
            UPDATE batch_jobs SET status = 'paused', completed_at = NULL, paused_at = ts,
                pause_reason = n || ' failed item(s) queued for retry', updated_at = ts WHERE id = p_job;
        END IF;
        PERFORM tk_event(p_job, 'retry_failed', n || ' item(s)', p_worker, ts);
    END IF;
    RETURN n;
END $$;

-- Workers on any machine learn of a pause (or cancel) at once: sessions LISTEN.
CREATE OR REPLACE FUNCTION tk_notify_status() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('toolkit_jobs', NEW.id::TEXT || ':' || NEW.status);
    RETURN NEW;
END $$;

CREATE OR REPLACE TRIGGER batch_jobs_status_notify
AFTER UPDATE OF status ON batch_jobs
FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status AND NEW.status IN ('paused', 'cancelled', 'completed'))
EXECUTE FUNCTION tk_notify_status();

-- ---------------------------------------------------------------------------
-- The guide's SQL, with the guide's argument order. A psql user is worker
-- 'sql:<user>', so the same person gets their unfinished claims back first.

CREATE OR REPLACE FUNCTION create_batch_job(p_job_type TEXT, p_county_id INTEGER DEFAULT NULL,
                                            p_batch_size INTEGER DEFAULT NULL,
                                            p_strategy TEXT DEFAULT 'county',
                                            p_force BOOLEAN DEFAULT FALSE)
RETURNS UUID LANGUAGE sql AS $$
    SELECT job_id FROM tk_create_job(p_job_type, p_county_id, p_batch_size, p_strategy, p_force, 10,
                                     'sql:' || current_user, NULL)
$$;

CREATE OR REPLACE FUNCTION get_next_batch(p_job TEXT, p_worker TEXT DEFAULT NULL,
                                          p_lease_seconds DOUBLE PRECISION DEFAULT 3600)
RETURNS TABLE (item_id TEXT, seq INTEGER, county TEXT, county_id INTEGER, parcel_id TEXT, address TEXT,
               document_path TEXT)
LANGUAGE sql AS $$
    SELECT c.item_id, c.seq, co.county_name, i.county_id, p.parcel_id, p.address, d.path
    FROM tk_claim_batch(tk_resolve_job(p_job), COALESCE(p_worker, 'sql:' || current_user),
                        p_lease_seconds, NULL, TRUE, NULL, TRUE, NULL) AS c
    JOIN batch_job_items i ON i.job_id = tk_resolve_job(p_job) AND i.seq = c.seq
    LEFT JOIN counties co ON co.id = i.county_id
    LEFT JOIN properties p ON p.id = tk_uuid_or_null(c.item_id)
    LEFT JOIN documents d ON d.id = tk_uuid_or_null(c.item_id)
    ORDER BY c.seq
$$;

-- Returns the job's status afterwards ('paused' after the tenth consecutive failure).
CREATE OR REPLACE FUNCTION update_batch_progress(p_job TEXT, p_item TEXT, p_processed INTEGER,
                                                 p_failed INTEGER, p_error TEXT DEFAULT NULL)
RETURNS TEXT LANGUAGE plpgsql AS $$
DECLARE
    jid UUID := tk_resolve_job(p_job);
    it RECORD;
    st TEXT;
BEGIN
    IF (p_processed, p_failed) NOT IN ((1, 0), (0, 1)) THEN
        RAISE EXCEPTION 'update_batch_progress reports one item: items_processed, items_failed must be (1, 0) or (0, 1), got (%, %).',
            p_processed, p_failed USING ERRCODE = 'TKVAL';
    END IF;
    SELECT i.seq, i.status INTO it FROM batch_job_items i WHERE i.job_id = jid AND i.item_id = p_item;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'Item % is not part of job %; use the item_id values get_next_batch returned.',
            quote_literal(p_item), jid USING ERRCODE = 'TKVAL';
    END IF;
    IF it.status IN ('done', 'failed', 'skipped') THEN
        RAISE EXCEPTION 'Item % of job % is % already; to redo failed items use retry_failed_items().',
            quote_literal(p_item), jid, it.status USING ERRCODE = 'TKTRN';
    END IF;
    SELECT r.status INTO st FROM tk_record_outcomes(
        jid, ARRAY[it.seq], ARRAY[p_item], ARRAY[CASE WHEN p_processed = 1 THEN 'done' ELSE 'failed' END],
        ARRAY[CASE WHEN p_failed = 1 THEN COALESCE(p_error, 'failed') END], 'sql:' || current_user,
        NULL, NULL, 0, NULL) AS r;
    RETURN st;
END $$;

CREATE OR REPLACE FUNCTION pause_batch_job(p_job TEXT DEFAULT NULL, p_reason TEXT DEFAULT NULL)
RETURNS UUID LANGUAGE plpgsql AS $$
DECLARE
    jid UUID;
BEGIN
    IF p_job IS NULL THEN
        SELECT id INTO jid FROM batch_jobs WHERE status IN ('in_progress', 'pending')
        ORDER BY CASE status WHEN 'in_progress' THEN 0 ELSE 1 END, updated_at DESC LIMIT 1;
        IF jid IS NULL THEN
            RAISE EXCEPTION 'No running or pending batch job to pause.' USING ERRCODE = 'TKNFD';
        END IF;
    ELSE
        jid := tk_resolve_job(p_job);
    END IF;
    PERFORM tk_pause(jid, p_reason, 'sql:' || current_user, NULL);
    RETURN jid;
END $$;

CREATE OR REPLACE FUNCTION resume_batch_job(p_job TEXT DEFAULT NULL)
RETURNS UUID LANGUAGE plpgsql AS $$
DECLARE
    jid UUID;
BEGIN
    IF p_job IS NULL THEN
        SELECT id INTO jid FROM batch_jobs WHERE status IN ('paused', 'in_progress', 'pending')
        ORDER BY CASE status WHEN 'paused' THEN 0 WHEN 'in_progress' THEN 1 ELSE 2 END, updated_at DESC LIMIT 1;
        IF jid IS NULL THEN
            RAISE EXCEPTION 'No paused or interrupted batch job to resume; start one with create_batch_job().'
                USING ERRCODE = 'TKNFD';
        END IF;
    ELSE
        jid := tk_resolve_job(p_job);
    END IF;
    PERFORM tk_resume(jid, 'sql:' || current_user, NULL, NULL);
    RETURN jid;
END $$;

CREATE OR REPLACE FUNCTION complete_batch_job(p_job TEXT) RETURNS UUID LANGUAGE plpgsql AS $$
DECLARE
    jid UUID := tk_resolve_job(p_job);
BEGIN
    PERFORM tk_complete(jid, 'sql:' || current_user, NULL);
    RETURN jid;
END $$;

CREATE OR REPLACE FUNCTION cancel_batch_job(p_job TEXT) RETURNS UUID LANGUAGE plpgsql AS $$
DECLARE
    jid UUID := tk_resolve_job(p_job);
BEGIN
    PERFORM tk_cancel(jid, 'sql:' || current_user, NULL);
    RETURN jid;
END $$;

CREATE OR REPLACE FUNCTION retry_failed_items(p_job TEXT) RETURNS INTEGER LANGUAGE sql AS $$
    SELECT tk_retry_failed(tk_resolve_job(p_job), 'sql:' || current_user, NULL)
$$;
