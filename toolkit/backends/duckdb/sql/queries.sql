-- The DuckDB statements the toolkit shares with the Postgres backend (the same names in
-- ../../postgres/sql/queries.sql). Values are always bound (?); identifiers ({view},
-- {table}) go through toolkit.sql.quote_ident.

-- name: utc_now_macro
CREATE OR REPLACE MACRO utc_now() AS CAST(get_current_timestamp() AT TIME ZONE 'UTC' AS TIMESTAMP);

-- ---------------------------------------------------------------------------
-- Eligibility: which items are pending for each job type (the pipeline).
-- Each returns item_id, county_id, county_name, sale_date, sort_key.
-- An item done in any job of the type counts as worked, even without a result
-- row (work reported through update_batch_progress from outside the toolkit).

-- name: vw_done_items
CREATE OR REPLACE VIEW vw_done_items AS
SELECT j.job_type, i.item_id, i.finished_at
FROM batch_job_items i JOIN batch_jobs j ON j.id = i.job_id
WHERE i.status = 'done';

-- name: vw_property_sale_dates
CREATE OR REPLACE VIEW vw_property_sale_dates AS
SELECT p.id, p.county_id, c.county_name, p.parcel_norm,
       COALESCE(p.sale_date, (SELECT min(u.sale_date) FROM upcoming_sales u
                              WHERE u.county_id = p.county_id AND u.sale_date >= current_date)) AS sale_date
FROM properties p JOIN counties c ON c.id = p.county_id
WHERE p.auction_status = 'active';

-- name: vw_approved_properties
CREATE OR REPLACE VIEW vw_approved_properties AS
SELECT v.property_id
FROM visual_validations v
WHERE COALESCE(v.override_verdict, v.verdict) = 'APPROVED';

-- name: vw_title_inputs_changed
-- when each property's title inputs (notice confirmations, title searches, liens) last changed
CREATE OR REPLACE VIEW vw_title_inputs_changed AS
SELECT property_id, max(changed) AS changed_at
FROM (SELECT property_id, confirmed_at AS changed FROM notice_confirmations
      UNION ALL SELECT property_id, searched_at FROM title_searches
      UNION ALL SELECT property_id, added_at FROM property_liens) inputs
GROUP BY property_id;

-- name: vw_bid_out_of_date
-- each bid: '' when current, else what changed after it (a title input, or research redone)
CREATE OR REPLACE VIEW vw_bid_out_of_date AS
SELECT b.property_id,
       CASE WHEN ti.changed_at > tr.researched_at
              THEN 'title inputs recorded after its title research: run title_research, then bid_strategy'
            WHEN greatest(ca.assessed_at, ea.assessed_at, tr.researched_at) > b.calculated_at
              THEN 'research redone after this bid: run bid_strategy'
            ELSE '' END AS out_of_date
FROM bid_strategies b
LEFT JOIN condition_assessments ca ON ca.property_id = b.property_id
LEFT JOIN environmental_assessments ea ON ea.property_id = b.property_id
LEFT JOIN title_research tr ON tr.property_id = b.property_id
LEFT JOIN vw_title_inputs_changed ti ON ti.property_id = b.property_id;

-- name: eligible_pdf_parsing
SELECT d.id::VARCHAR AS item_id, d.county_id, c.county_name, d.sale_date,
       COALESCE(d.path, d.url, '') || d.id::VARCHAR AS sort_key
FROM documents d JOIN counties c ON c.id = d.county_id
WHERE d.document_type = 'property_list' AND d.parse_status <> 'parsed'
  AND d.id::VARCHAR NOT IN (SELECT item_id FROM vw_done_items WHERE job_type = 'pdf_parsing')

-- name: eligible_county_research
SELECT c.id::VARCHAR AS item_id, c.id AS county_id, c.county_name,
       (SELECT min(u.sale_date) FROM upcoming_sales u
        WHERE u.county_id = c.id AND u.sale_date >= current_date) AS sale_date,
       c.county_name AS sort_key
FROM counties c
WHERE (EXISTS (SELECT 1 FROM properties p WHERE p.county_id = c.id AND p.auction_status = 'active')
       OR EXISTS (SELECT 1 FROM documents d WHERE d.county_id = c.id))
  AND NOT EXISTS (SELECT 1 FROM county_research r WHERE r.county_id = c.id AND r.status = 'done'
                  AND r.researched_at >= utc_now() - INTERVAL 30 DAY)
  AND c.id::VARCHAR NOT IN (SELECT item_id FROM vw_done_items WHERE job_type = 'county_research'
                            AND finished_at >= utc_now() - INTERVAL 30 DAY)

-- name: eligible_regrid_scraping
SELECT p.id::VARCHAR AS item_id, p.county_id, p.county_name, p.sale_date, p.parcel_norm AS sort_key
FROM vw_property_sale_dates p
WHERE p.id NOT IN (SELECT property_id FROM regrid_data)
  AND p.id::VARCHAR NOT IN (SELECT item_id FROM vw_done_items WHERE job_type = 'regrid_scraping')

-- name: eligible_visual_validation
SELECT p.id::VARCHAR AS item_id, p.county_id, p.county_name, p.sale_date, p.parcel_norm AS sort_key
FROM vw_property_sale_dates p
WHERE p.id IN (SELECT property_id FROM regrid_data)
  AND p.id NOT IN (SELECT property_id FROM visual_validations)
  AND p.id::VARCHAR NOT IN (SELECT item_id FROM vw_done_items WHERE job_type = 'visual_validation')

-- name: eligible_property_condition
SELECT p.id::VARCHAR AS item_id, p.county_id, p.county_name, p.sale_date, p.parcel_norm AS sort_key
FROM vw_property_sale_dates p
WHERE p.id IN (SELECT property_id FROM vw_approved_properties)
  AND p.id NOT IN (SELECT property_id FROM condition_assessments)
  AND p.id::VARCHAR NOT IN (SELECT item_id FROM vw_done_items WHERE job_type = 'property_condition')

-- name: eligible_environmental_research
SELECT p.id::VARCHAR AS item_id, p.county_id, p.county_name, p.sale_date, p.parcel_norm AS sort_key
FROM vw_property_sale_dates p
WHERE p.id IN (SELECT property_id FROM vw_approved_properties)
  AND p.id NOT IN (SELECT property_id FROM environmental_assessments)
  AND p.id::VARCHAR NOT IN (SELECT item_id FROM vw_done_items WHERE job_type = 'environmental_research')

-- name: eligible_title_research
-- also a property whose title inputs (a notice confirmation, a title search, a lien)
-- were recorded after its title was researched: its result is stale (issue 12)
SELECT p.id::VARCHAR AS item_id, p.county_id, p.county_name, p.sale_date, p.parcel_norm AS sort_key
FROM vw_property_sale_dates p
LEFT JOIN vw_title_inputs_changed ch ON ch.property_id = p.id
WHERE p.id IN (SELECT property_id FROM vw_approved_properties)
  AND NOT EXISTS (SELECT 1 FROM title_research t WHERE t.property_id = p.id
                  AND (ch.changed_at IS NULL OR t.researched_at >= ch.changed_at))
  AND NOT EXISTS (SELECT 1 FROM vw_done_items d
                  WHERE d.job_type = 'title_research' AND d.item_id = p.id::VARCHAR
                  AND (ch.changed_at IS NULL OR d.finished_at >= ch.changed_at))

-- name: eligible_bid_strategy
-- also a property whose condition, environmental or title result is newer than its bid;
-- not while its title result is itself out of date (title inputs recorded after it)
SELECT p.id::VARCHAR AS item_id, p.county_id, p.county_name, p.sale_date, p.parcel_norm AS sort_key
FROM vw_property_sale_dates p
JOIN condition_assessments ca ON ca.property_id = p.id
JOIN environmental_assessments ea ON ea.property_id = p.id
JOIN title_research tr ON tr.property_id = p.id
WHERE p.id IN (SELECT property_id FROM vw_approved_properties)
  AND NOT EXISTS (SELECT 1 FROM vw_title_inputs_changed ti
                  WHERE ti.property_id = p.id AND ti.changed_at > tr.researched_at)
  AND NOT EXISTS (SELECT 1 FROM bid_strategies b WHERE b.property_id = p.id
                  AND b.calculated_at >= greatest(ca.assessed_at, ea.assessed_at, tr.researched_at))
  AND NOT EXISTS (SELECT 1 FROM vw_done_items d
                  WHERE d.job_type = 'bid_strategy' AND d.item_id = p.id::VARCHAR
                  AND d.finished_at >= greatest(ca.assessed_at, ea.assessed_at, tr.researched_at))

-- name: waiting_bid_strategy
-- approved properties whose condition, environmental or title research is unfinished
SELECT p.id FROM vw_property_sale_dates p
WHERE p.id IN (SELECT property_id FROM vw_approved_properties)
  AND p.id NOT IN (SELECT property_id FROM bid_strategies)
  AND (p.id NOT IN (SELECT property_id FROM condition_assessments)
       OR p.id NOT IN (SELECT property_id FROM environmental_assessments)
       OR p.id NOT IN (SELECT property_id FROM title_research))

-- ---------------------------------------------------------------------------
-- Status views and macros (the guide's read-only SQL, runnable in any DuckDB client)

-- name: vw_batch_status
CREATE OR REPLACE VIEW vw_batch_status AS
WITH timing AS (
    SELECT job_id,
           sum(epoch(ended_at - started_at)) AS session_seconds,
           sum(items + failed) AS session_items
    FROM sessions WHERE ended_at IS NOT NULL GROUP BY job_id
)
SELECT j.id::VARCHAR AS job_id, j.job_type, c.county_name AS county, j.county_id, j.status, j.strategy,
       j.batch_size, j.total_items, j.processed_items, j.failed_items, j.skipped_items,
       j.total_items - j.processed_items - j.failed_items - j.skipped_items AS pending_items,
       CASE WHEN j.total_items = 0 THEN 100.0
            ELSE round(100.0 * (j.processed_items + j.failed_items + j.skipped_items) / j.total_items, 1)
       END AS percent_complete,
       j.current_batch, j.total_batches, j.consecutive_failures, j.max_consecutive_failures,
       j.last_item_id, j.last_error, j.pause_reason,
       j.created_at, j.started_at, j.paused_at, j.completed_at, j.cancelled_at, j.updated_at,
       CASE WHEN t.session_items > 0
            THEN round((j.total_items - j.processed_items - j.failed_items - j.skipped_items)
                       * t.session_seconds / t.session_items, 1)
       END AS eta_seconds
FROM batch_jobs j
LEFT JOIN counties c ON c.id = j.county_id
LEFT JOIN timing t ON t.job_id = j.id;

-- name: vw_active_batch_jobs
CREATE OR REPLACE VIEW vw_active_batch_jobs AS
SELECT * FROM vw_batch_status WHERE status IN ('pending', 'in_progress', 'paused')
ORDER BY updated_at DESC;

-- name: vw_completed_batch_jobs
CREATE OR REPLACE VIEW vw_completed_batch_jobs AS
SELECT * FROM vw_batch_status WHERE status = 'completed' ORDER BY completed_at DESC;

-- name: get_batch_status_macro
CREATE OR REPLACE MACRO get_batch_status(job) AS TABLE
SELECT * FROM vw_batch_status WHERE job_id = CAST(job AS VARCHAR);

-- ---------------------------------------------------------------------------
-- Jobs

-- name: job_get
SELECT * FROM batch_jobs WHERE id = ?::UUID;

-- name: jobs_active
SELECT id::VARCHAR AS id, job_type, county_id, status FROM batch_jobs
WHERE status IN ('pending', 'in_progress', 'paused') ORDER BY updated_at DESC;

-- name: job_resumable
SELECT id::VARCHAR AS id FROM batch_jobs
WHERE status IN ('paused', 'in_progress', 'pending') AND (? IS NULL OR job_type = ?)
ORDER BY CASE status WHEN 'paused' THEN 0 WHEN 'in_progress' THEN 1 ELSE 2 END, updated_at DESC LIMIT 1;

-- name: job_pausable
SELECT id::VARCHAR AS id FROM batch_jobs
WHERE status IN ('in_progress', 'pending') AND (? IS NULL OR job_type = ?)
ORDER BY CASE status WHEN 'in_progress' THEN 0 ELSE 1 END, updated_at DESC LIMIT 1;

-- name: items_get_one
SELECT seq, status FROM batch_job_items WHERE job_id = ?::UUID AND item_id = ?;

-- name: items_failures
SELECT seq, item_id, attempts, error, finished_at FROM batch_job_items
WHERE job_id = ?::UUID AND status = 'failed' ORDER BY seq;

-- ---------------------------------------------------------------------------
-- Context handed to people and processors with each batch

-- name: context_property
SELECT i.item_id, i.seq, p.parcel_id, p.address, p.owner, p.municipality, p.description,
       c.county_name AS county, c.state, p.county_id, CAST(p.upset_price AS DOUBLE) AS upset_price,
       p.sale_type, p.sale_date, p.control_number, p.auction_status
FROM batch_job_items i
JOIN properties p ON p.id = i.item_id::UUID
JOIN counties c ON c.id = p.county_id
WHERE i.job_id = ?::UUID AND list_contains(?::INTEGER[], i.seq)
ORDER BY i.seq;

-- name: context_parcel
SELECT i.item_id, i.seq, p.parcel_id, p.address, p.owner AS list_owner, p.municipality, p.description,
       c.county_name AS county, c.state, p.county_id, CAST(p.upset_price AS DOUBLE) AS upset_price,
       p.sale_type, p.sale_date, p.control_number, (c.county_name = 'Philadelphia') AS is_philadelphia,
       r.address AS parcel_address, r.* EXCLUDE (property_id, job_id, address)
FROM batch_job_items i
JOIN properties p ON p.id = i.item_id::UUID
JOIN counties c ON c.id = p.county_id
LEFT JOIN regrid_data r ON r.property_id = p.id
WHERE i.job_id = ?::UUID AND list_contains(?::INTEGER[], i.seq)
ORDER BY i.seq;

-- name: context_document
SELECT i.item_id, i.seq, d.path, d.url, d.document_type, d.sha256, d.sale_type, d.sale_date,
       c.county_name AS county, c.state, d.county_id, d.parse_status
FROM batch_job_items i
JOIN documents d ON d.id = i.item_id::UUID
JOIN counties c ON c.id = d.county_id
WHERE i.job_id = ?::UUID AND list_contains(?::INTEGER[], i.seq)
ORDER BY i.seq;

-- name: context_county
SELECT i.item_id, i.seq, c.county_name AS county, c.state, c.id AS county_id, c.fips,
       (SELECT count(*) FROM properties p WHERE p.county_id = c.id AND p.auction_status = 'active')
           AS active_properties,
       (SELECT max(r.researched_at) FROM county_research r WHERE r.county_id = c.id) AS last_researched_at
FROM batch_job_items i
JOIN counties c ON c.id = i.item_id::INTEGER
WHERE i.job_id = ?::UUID AND list_contains(?::INTEGER[], i.seq)
ORDER BY i.seq;

-- ---------------------------------------------------------------------------
-- Sessions

-- name: session_insert
INSERT INTO sessions (id, job_id, worker, started_at) VALUES (?::UUID, ?::UUID, ?, ?);

-- name: sessions_open
SELECT id::VARCHAR AS id, job_id::VARCHAR AS job_id, worker, started_at FROM sessions WHERE ended_at IS NULL;

-- name: session_close_dead
-- a session whose process died: closed with what its worker really finished
UPDATE sessions SET
    ended_at = COALESCE((SELECT max(i.finished_at) FROM batch_job_items i
                         WHERE i.job_id = sessions.job_id AND i.finished_by = sessions.worker
                           AND i.finished_at >= sessions.started_at), ?),
    items = (SELECT count(*) FROM batch_job_items i
             WHERE i.job_id = sessions.job_id AND i.finished_by = sessions.worker
               AND i.finished_at >= sessions.started_at AND i.status = 'done'),
    failed = (SELECT count(*) FROM batch_job_items i
              WHERE i.job_id = sessions.job_id AND i.finished_by = sessions.worker
                AND i.finished_at >= sessions.started_at AND i.status = 'failed'),
    skipped = (SELECT count(*) FROM batch_job_items i
               WHERE i.job_id = sessions.job_id AND i.finished_by = sessions.worker
                 AND i.finished_at >= sessions.started_at AND i.status = 'skipped'),
    outcome = 'killed', message = ?
WHERE id = ?::UUID AND ended_at IS NULL;

-- name: session_end
UPDATE sessions SET ended_at = ?, items = ?, failed = ?, skipped = ?, outcome = ?, message = ?,
    record_path = COALESCE(?, record_path)
WHERE id = ?::UUID;

-- ---------------------------------------------------------------------------
-- Properties

-- name: county_lookup
SELECT id, county_name FROM counties;

-- name: properties_upsert
INSERT INTO properties (id, county_id, parcel_id, parcel_norm, control_number, address, municipality,
                        owner, description, upset_price, sale_type, sale_date, auction_status,
                        document_id, created_at, updated_at)
SELECT uuid(), county_id, parcel_id, parcel_norm, control_number, address, municipality, owner,
       description, upset_price, sale_type, sale_date, COALESCE(auction_status,
                (SELECT p.auction_status FROM properties p WHERE p.county_id = _incoming.county_id
                 AND p.parcel_norm = _incoming.parcel_norm), 'active'),
       document_id, ts, ts
FROM _incoming
ON CONFLICT (county_id, parcel_norm) DO UPDATE SET
    parcel_id = excluded.parcel_id,
    control_number = COALESCE(excluded.control_number, properties.control_number),
    address = COALESCE(excluded.address, properties.address),
    municipality = COALESCE(excluded.municipality, properties.municipality),
    owner = COALESCE(excluded.owner, properties.owner),
    description = COALESCE(excluded.description, properties.description),
    upset_price = COALESCE(excluded.upset_price, properties.upset_price),
    sale_type = COALESCE(excluded.sale_type, properties.sale_type),
    sale_date = COALESCE(excluded.sale_date, properties.sale_date),
    auction_status = COALESCE(excluded.auction_status, properties.auction_status),
    document_id = COALESCE(excluded.document_id, properties.document_id),
    updated_at = excluded.updated_at;

-- name: properties_existing
SELECT i.county_id, i.parcel_norm FROM _incoming i
JOIN properties p ON p.county_id = i.county_id AND p.parcel_norm = i.parcel_norm;

-- name: properties_listed_inactive
-- parcels of an import that are not active in the workspace, where the row gives no status
SELECT p.id::VARCHAR AS id, p.county_id, p.parcel_id, p.parcel_norm, p.auction_status
FROM properties p
JOIN _incoming i ON p.county_id = i.county_id AND p.parcel_norm = i.parcel_norm
WHERE p.auction_status <> 'active' AND i.auction_status IS NULL
ORDER BY p.county_id, p.parcel_norm;

-- name: properties_missing_from_list
-- active parcels of the given counties that a republished list (_listed) no longer has
SELECT p.id::VARCHAR AS id, p.county_id, p.parcel_id FROM properties p
WHERE p.auction_status = 'active' AND list_contains(?::INTEGER[], p.county_id)
  AND NOT EXISTS (SELECT 1 FROM _listed l
                  WHERE l.county_id = p.county_id AND l.parcel_norm = p.parcel_norm)
ORDER BY p.county_id, p.parcel_norm;

-- name: properties_active_per_county
SELECT county_id, count(*) AS active FROM properties
WHERE auction_status = 'active' AND list_contains(?::INTEGER[], county_id)
GROUP BY county_id;

-- name: properties_set_status
UPDATE properties SET auction_status = ?, updated_at = ? WHERE list_contains(?::UUID[], id);

-- name: items_pending_for_properties
SELECT j.id::VARCHAR AS job_id, j.job_type, count(*) AS items
FROM batch_job_items i JOIN batch_jobs j ON j.id = i.job_id
WHERE j.status IN ('pending', 'in_progress', 'paused') AND i.status = 'pending'
  AND list_contains(?::VARCHAR[], i.item_id)
GROUP BY j.id, j.job_type;

-- name: table_columns
SELECT column_name, data_type, is_nullable FROM information_schema.columns
WHERE table_name = ? ORDER BY ordinal_position;

-- ---------------------------------------------------------------------------
-- Reports

-- name: audit_gaps
SELECT c.county_name AS county,
       count(*) AS active_properties,
       count(*) FILTER (WHERE r.property_id IS NULL) AS missing_parcel_data,
       count(*) FILTER (WHERE p.address IS NULL OR trim(p.address) = '') AS missing_address,
       count(*) FILTER (WHERE p.upset_price IS NULL) AS missing_amount,
       count(*) FILTER (WHERE p.sale_date IS NULL) AS missing_sale_date
FROM properties p
JOIN counties c ON c.id = p.county_id
LEFT JOIN regrid_data r ON r.property_id = p.id
WHERE p.auction_status = 'active'
GROUP BY c.county_name ORDER BY c.county_name;

-- name: audit_stages
SELECT c.county_name AS county,
       count(*) AS listed,
       count(*) FILTER (WHERE p.auction_status = 'active') AS active,
       count(r.property_id) AS parcel_data,
       count(v.property_id) AS validated,
       count(*) FILTER (WHERE COALESCE(v.override_verdict, v.verdict) = 'APPROVED') AS approved,
       count(ca.property_id) AS condition,
       count(ea.property_id) AS environmental,
       count(tr.property_id) AS title,
       count(b.property_id) AS bid_calculated,
       count(*) FILTER (WHERE b.decision = 'BID') AS bid
FROM properties p
JOIN counties c ON c.id = p.county_id
LEFT JOIN regrid_data r ON r.property_id = p.id
LEFT JOIN visual_validations v ON v.property_id = p.id
LEFT JOIN condition_assessments ca ON ca.property_id = p.id
LEFT JOIN environmental_assessments ea ON ea.property_id = p.id
LEFT JOIN title_research tr ON tr.property_id = p.id
LEFT JOIN bid_strategies b ON b.property_id = p.id
GROUP BY c.county_name ORDER BY c.county_name;

-- name: status_one
SELECT * FROM get_batch_status(?);

-- name: pending_summary
SELECT * FROM get_pending_work_summary();

-- name: active_jobs
SELECT * FROM vw_active_batch_jobs;

-- name: completed_jobs
SELECT * FROM vw_completed_batch_jobs;

-- name: bulk_files_all
SELECT b.county_id, c.county_name, b.path, b.format
FROM bulk_files b JOIN counties c ON c.id = b.county_id ORDER BY c.county_name;

-- name: bulk_file_upsert
INSERT OR REPLACE INTO bulk_files (county_id, path, format, added_at) VALUES (?, ?, ?, ?);

-- name: county_name
SELECT county_name FROM counties WHERE id = ?;

-- ---------------------------------------------------------------------------
-- Documents and pdf_parsing results (toolkit/documents.py, toolkit/processors/pdf_parsing.py)

-- name: document_by_sha
SELECT id::VARCHAR AS id, county_id, path, url FROM documents WHERE sha256 = ?;

-- name: document_insert
INSERT INTO documents (id, county_id, document_type, path, url, sha256, sale_type, sale_date, added_at)
VALUES (?::UUID, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: document_context
SELECT d.id::VARCHAR AS item_id, 0 AS seq, d.path, d.url, d.document_type, d.sha256, d.sale_type,
       d.sale_date, c.county_name AS county, c.state, d.county_id, d.parse_status
FROM documents d JOIN counties c ON c.id = d.county_id
WHERE d.id = ?::UUID;

-- name: document_set_parsed
UPDATE documents SET parse_status = 'parsed', layout = ?, page_count = ?, rows_parsed = ?,
    rows_failed = ?, parse_error = NULL, parsed_at = ?,
    sale_type = COALESCE(sale_type, ?), sale_date = COALESCE(sale_date, ?)
WHERE id = ?::UUID;

-- name: parsing_errors_clear
DELETE FROM parsing_errors WHERE list_contains(?::VARCHAR[], document_id::VARCHAR);

-- name: parsing_errors_insert
INSERT INTO parsing_errors (document_id, page, raw_text, reason, created_at)
SELECT document_id::UUID, page, raw_text, reason, created_at FROM _parse_errors;

-- name: documents_overview
SELECT d.id::VARCHAR AS document_id, c.county_name AS county, d.document_type, d.path, d.url,
       d.sale_type, d.sale_date, d.parse_status, d.layout, d.page_count, d.rows_parsed,
       d.rows_failed, d.added_at, d.parsed_at,
       (SELECT i.error FROM batch_job_items i JOIN batch_jobs j ON j.id = i.job_id
        WHERE j.job_type = 'pdf_parsing' AND i.item_id = d.id::VARCHAR AND i.status = 'failed'
        ORDER BY i.finished_at DESC LIMIT 1) AS last_error
FROM documents d JOIN counties c ON c.id = d.county_id
ORDER BY d.added_at, d.id;

-- name: properties_upsert_parsed
INSERT INTO properties (id, county_id, parcel_id, parcel_norm, control_number, address, municipality,
                        owner, description, upset_price, sale_type, sale_date, auction_status,
                        document_id, raw_text, parse_confidence, parse_issues, parse_extra,
                        created_at, updated_at)
SELECT uuid(), county_id, parcel_id, parcel_norm, control_number, address, municipality, owner,
       description, upset_price, sale_type, sale_date, COALESCE(auction_status,
                (SELECT p.auction_status FROM properties p WHERE p.county_id = _incoming.county_id
                 AND p.parcel_norm = _incoming.parcel_norm), 'active'),
       CAST(document_id AS UUID), raw_text, parse_confidence, parse_issues, parse_extra, ts, ts
FROM _incoming
ON CONFLICT (county_id, parcel_norm) DO UPDATE SET
    parcel_id = excluded.parcel_id,
    control_number = COALESCE(excluded.control_number, properties.control_number),
    address = COALESCE(excluded.address, properties.address),
    municipality = COALESCE(excluded.municipality, properties.municipality),
    owner = COALESCE(excluded.owner, properties.owner),
    description = COALESCE(excluded.description, properties.description),
    upset_price = COALESCE(excluded.upset_price, properties.upset_price),
    sale_type = COALESCE(excluded.sale_type, properties.sale_type),
    sale_date = COALESCE(excluded.sale_date, properties.sale_date),
    auction_status = COALESCE(excluded.auction_status, properties.auction_status),
    document_id = COALESCE(excluded.document_id, properties.document_id),
    raw_text = COALESCE(excluded.raw_text, properties.raw_text),
    parse_confidence = COALESCE(excluded.parse_confidence, properties.parse_confidence),
    parse_issues = COALESCE(excluded.parse_issues, properties.parse_issues),
    parse_extra = COALESCE(excluded.parse_extra, properties.parse_extra),
    updated_at = excluded.updated_at;

-- ---------------------------------------------------------------------------
-- county_research results (toolkit/processors/county_research.py)

-- name: county_research_insert
INSERT INTO county_research (county_id, job_id, status, notes, links, source, researched_at)
VALUES (?, ?::UUID, ?, ?, ?, ?, ?);

-- name: upcoming_sales_clear
DELETE FROM upcoming_sales WHERE list_contains(?::INTEGER[], county_id);

-- name: upcoming_sales_insert
INSERT INTO upcoming_sales (county_id, sale_type, sale_date, registration_deadline, deposit,
                            payment_terms, bidder_certification, location, platform, source,
                            researched_at)
SELECT county_id, sale_type, sale_date, registration_deadline, deposit, payment_terms,
       bidder_certification, location, platform, source, researched_at
FROM _upcoming_sales;

-- ---------------------------------------------------------------------------
-- Decisions: inputs the rules read besides the batch context

-- name: parcel_values_for_counties
SELECT c.county_name AS county, r.improvement_value, r.bldg_footprint_sqft, r.land_value, r.total_value
FROM regrid_data r JOIN properties p ON p.id = r.property_id JOIN counties c ON c.id = p.county_id
WHERE list_contains(?::VARCHAR[], c.county_name);

-- name: liens_for
SELECT property_id::VARCHAR AS property_id, lien_type, holder, amount, recorded_date
FROM property_liens WHERE list_contains(?::VARCHAR[], property_id::VARCHAR);

-- name: title_searched_for
SELECT DISTINCT property_id::VARCHAR AS property_id FROM title_searches
WHERE list_contains(?::VARCHAR[], property_id::VARCHAR)
UNION
SELECT DISTINCT property_id::VARCHAR FROM property_liens
WHERE list_contains(?::VARCHAR[], property_id::VARCHAR);

-- name: bid_inputs_for
SELECT p.id::VARCHAR AS property_id, ca.repair_estimate, ca.grade,
       tr.status AS title_status, tr.surviving_total, tr.redemption_risk, tr.redemption_period,
       ea.risk_level AS environmental_risk, ea.flood_zone, ea.flood_sfha, ea.wetlands, ea.mine_subsidence,
       p.parse_extra AS list_extra
FROM properties p
LEFT JOIN condition_assessments ca ON ca.property_id = p.id
LEFT JOIN title_research tr ON tr.property_id = p.id
LEFT JOIN environmental_assessments ea ON ea.property_id = p.id
WHERE list_contains(?::VARCHAR[], p.id::VARCHAR);

-- name: notice_confirmed_for
SELECT DISTINCT property_id::VARCHAR AS property_id FROM notice_confirmations
WHERE list_contains(?::VARCHAR[], property_id::VARCHAR);

-- name: notice_confirm_insert
INSERT INTO notice_confirmations (property_id, confirmed_at, note) VALUES (?::UUID, ?, ?);

-- name: clr_factors_all
SELECT c.county_name AS county, f.factor, f.valid_from, f.valid_to, f.source
FROM clr_factors f JOIN counties c ON c.id = f.county_id;

-- name: clr_factors_replace_county
DELETE FROM clr_factors WHERE county_id = ?;

-- name: clr_factor_insert
INSERT INTO clr_factors (county_id, factor, valid_from, valid_to, source, added_at) VALUES (?, ?, ?, ?, ?, ?);

-- name: property_by_parcel
SELECT id::VARCHAR AS id FROM properties WHERE county_id = ? AND parcel_norm = ?;

-- name: lien_insert
INSERT INTO property_liens (property_id, lien_type, holder, amount, recorded_date, source, added_at)
VALUES (?::UUID, ?, ?, ?, ?, ?, ?);

-- name: liens_delete_source
DELETE FROM property_liens WHERE source = ?;

-- name: title_search_insert
INSERT INTO title_searches (property_id, searched_at, source) VALUES (?::UUID, ?, ?);

-- ---------------------------------------------------------------------------
-- What people record by hand, and the bid list

-- name: property_by_id
SELECT id::VARCHAR AS id FROM properties WHERE id::VARCHAR = ?;

-- name: override_verdict
UPDATE visual_validations SET override_verdict = ?, override_note = ?, overridden_at = ?
WHERE property_id = ?::UUID;

-- name: footprint_of
SELECT bldg_footprint_sqft FROM regrid_data WHERE property_id = ?::UUID;

-- name: manual_grade_upsert
INSERT INTO condition_assessments (property_id, grade, manual_grade, repair_estimate, reasons, inputs_used,
                                   confidence, assessed_at)
VALUES (?::UUID, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (property_id) DO UPDATE SET
    grade = excluded.grade, manual_grade = excluded.manual_grade, repair_estimate = excluded.repair_estimate,
    reasons = excluded.reasons, inputs_used = excluded.inputs_used, confidence = excluded.confidence,
    assessed_at = excluded.assessed_at;

-- name: bid_list
SELECT b.decision, c.county_name AS county, p.sale_date, p.parcel_id, p.address, p.municipality, p.owner,
       CAST(p.upset_price AS DOUBLE) AS upset_price, b.max_bid_conservative, b.max_bid_moderate,
       b.max_bid_aggressive, b.market_value, b.market_value_source, ca.grade AS condition_grade,
       b.repairs, COALESCE(b.environmental_risk, ea.risk_level) AS environmental_risk, ea.flood_zone,
       ea.mine_subsidence, ea.wetlands, tr.status AS title_status, b.surviving_liens_total,
       b.minimum_bid, b.minimum_bid_source, COALESCE(b.redemption_risk, tr.redemption_risk) AS redemption_risk,
       COALESCE(b.redemption_period, tr.redemption_period) AS redemption_period,
       b.confidence, b.missing_inputs, b.reasons, b.breakdown, o.out_of_date
FROM bid_strategies b
JOIN properties p ON p.id = b.property_id
JOIN counties c ON c.id = p.county_id
LEFT JOIN condition_assessments ca ON ca.property_id = p.id
LEFT JOIN environmental_assessments ea ON ea.property_id = p.id
LEFT JOIN title_research tr ON tr.property_id = p.id
JOIN vw_bid_out_of_date o ON o.property_id = b.property_id
WHERE p.auction_status = 'active' AND (?::INTEGER IS NULL OR p.county_id = ?::INTEGER)
  AND list_contains(?::VARCHAR[], b.decision)
ORDER BY p.sale_date NULLS LAST, c.county_name, b.decision, b.max_bid_moderate DESC;

-- ---------------------------------------------------------------------------
-- Notebooks: dashboard, forms, the headless runner

-- name: dashboard_recent_sessions
SELECT s.started_at, j.job_type, c.county_name AS county, CAST(s.job_id AS VARCHAR) AS job_id,
       s.outcome, s.items, s.failed,
       date_diff('second', s.started_at, s.ended_at) AS seconds, s.worker, s.record_path
FROM sessions s
JOIN batch_jobs j ON j.id = s.job_id
LEFT JOIN counties c ON c.id = j.county_id
ORDER BY s.started_at DESC
LIMIT ?;

-- name: dashboard_throughput
SELECT date_trunc(?, i.finished_at) AS period, j.job_type,
       count(*) FILTER (WHERE i.status = 'done') AS done,
       count(*) FILTER (WHERE i.status = 'failed') AS failed,
       count(*) FILTER (WHERE i.status = 'skipped') AS skipped
FROM batch_job_items i
JOIN batch_jobs j ON j.id = i.job_id
WHERE i.finished_at IS NOT NULL
GROUP BY 1, 2
ORDER BY 1, 2;

-- name: dashboard_failures
SELECT j.job_type, i.error
FROM batch_job_items i
JOIN batch_jobs j ON j.id = i.job_id
WHERE i.status = 'failed';

-- name: forms_upcoming_sales
SELECT sale_type, sale_date, registration_deadline, deposit, source, researched_at
FROM upcoming_sales WHERE county_id = ? ORDER BY sale_date NULLS LAST;

-- name: forms_screened
SELECT v.property_id::VARCHAR AS property_id, c.county_name AS county, p.parcel_id, p.address,
       p.municipality, v.verdict, v.reasons, v.override_verdict, v.override_note, v.overridden_at,
       r.sketch_path, r.lat, r.lon
FROM visual_validations v
JOIN properties p ON p.id = v.property_id
JOIN counties c ON c.id = p.county_id
LEFT JOIN regrid_data r ON r.property_id = v.property_id
WHERE list_contains(?::VARCHAR[], v.verdict)
  AND (?::INTEGER IS NULL OR p.county_id = ?::INTEGER)
  AND (?::VARCHAR IS NULL OR v.job_id::VARCHAR = ?::VARCHAR)
ORDER BY c.county_name, v.verdict DESC, p.parcel_id;

-- name: runner_pending_count
SELECT count(*) AS n FROM {view} WHERE ?::INTEGER IS NULL OR county_id = ?::INTEGER;

-- name: runner_pending_by_county
SELECT county_name, county_id, count(*) AS n FROM {view}
WHERE county_id IS NOT NULL GROUP BY county_name, county_id ORDER BY n DESC, county_name;

-- name: runner_last_pause_event
SELECT event FROM batch_events
WHERE job_id = ?::UUID AND event IN ('paused', 'auto_paused')
ORDER BY occurred_at DESC LIMIT 1;

-- name: session_set_record_path
UPDATE sessions SET record_path = ? WHERE id = ?::UUID;

-- name: session_set_record_path_latest
UPDATE sessions SET record_path = ? WHERE id = (SELECT id FROM sessions WHERE
    job_id = ?::UUID AND started_at >= ? ORDER BY started_at DESC LIMIT 1);

-- name: document_path
SELECT path FROM documents WHERE id = ?::UUID;

-- name: worker_pick_job
-- the job a worker takes: running first, then pending, then paused (waits until resumed)
SELECT id::VARCHAR AS id, status FROM batch_jobs
WHERE status IN ('pending', 'in_progress', 'paused') AND (job_type = ? OR ? = '')
ORDER BY CASE status WHEN 'in_progress' THEN 0 WHEN 'pending' THEN 1 ELSE 2 END, created_at
LIMIT 1;

-- ---------------------------------------------------------------------------
-- The workspace's own facts (workspace_meta): kind = 'demo' marks the demo's file

-- name: workspace_meta_get
SELECT value FROM workspace_meta WHERE key = ?;

-- name: workspace_meta_set
INSERT INTO workspace_meta (key, value, updated_at) VALUES (?, ?, ?)
ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at;

-- name: parse_conflicts_find
-- parsed upset prices that differ from what another document (or an import) stored
SELECT i.county_id, i.parcel_norm, p.upset_price::DOUBLE AS earlier_value,
       p.document_id::VARCHAR AS earlier_document_id
FROM _conflict_check i
JOIN properties p ON p.county_id = i.county_id AND p.parcel_norm = i.parcel_norm
WHERE p.upset_price IS NOT NULL AND i.upset_price IS NOT NULL
  AND p.upset_price::DECIMAL(14, 2) <> i.upset_price::DECIMAL(14, 2)
  AND p.document_id IS DISTINCT FROM i.document_id::UUID;

-- name: parse_conflicts_clear
DELETE FROM parse_conflicts WHERE list_contains(?::VARCHAR[], document_id::VARCHAR);

-- name: parse_conflicts_insert
INSERT INTO parse_conflicts (document_id, county_id, parcel_id, parcel_norm, field, value,
                             earlier_value, earlier_document_id, page, created_at)
SELECT document_id::UUID, county_id, parcel_id, parcel_norm, field, value, earlier_value,
       earlier_document_id::UUID, page, created_at FROM _conflicts;

-- name: parse_conflicts_of
SELECT c.document_id::VARCHAR AS document_id, co.county_name AS county, c.parcel_id, c.field,
       c.value, c.earlier_value, c.earlier_document_id::VARCHAR AS earlier_document_id, c.page,
       c.created_at
FROM parse_conflicts c JOIN counties co ON co.id = c.county_id
ORDER BY c.created_at, c.parcel_norm;

-- ---------------------------------------------------------------------------
-- Notebooks: the research cockpit (property view, map, bid grid, dashboard charts)

-- name: notebook_property_index
SELECT p.id::VARCHAR AS property_id, c.county_name AS county, p.parcel_id, p.address,
       p.municipality, r.lat, r.lon, b.decision, COALESCE(v.override_verdict, v.verdict) AS verdict,
       COALESCE(ea.flood_zone, r.fema_flood_zone) AS flood_zone, b.max_bid_moderate, p.upset_price
FROM properties p
JOIN counties c ON c.id = p.county_id
LEFT JOIN regrid_data r ON r.property_id = p.id
LEFT JOIN visual_validations v ON v.property_id = p.id
LEFT JOIN environmental_assessments ea ON ea.property_id = p.id
LEFT JOIN bid_strategies b ON b.property_id = p.id
WHERE p.auction_status = 'active' AND (?::INTEGER IS NULL OR p.county_id = ?::INTEGER)
ORDER BY c.county_name, p.parcel_id;

-- name: notebook_decisions
SELECT c.county_name AS county, b.decision, count(*) AS n
FROM bid_strategies b
JOIN properties p ON p.id = b.property_id
JOIN counties c ON c.id = p.county_id
WHERE p.auction_status = 'active'
GROUP BY 1, 2 ORDER BY 1, 2;

-- name: notebook_property
SELECT p.id::VARCHAR AS property_id, c.county_name AS county, p.county_id, p.parcel_id,
       p.control_number, p.address, p.municipality, p.owner, p.description, p.upset_price, p.sale_type,
       p.sale_date, p.auction_status
FROM properties p JOIN counties c ON c.id = p.county_id
WHERE p.id = ?::UUID;

-- name: notebook_property_parcel
SELECT * FROM regrid_data WHERE property_id = ?::UUID;

-- name: notebook_property_screening
SELECT * FROM visual_validations WHERE property_id = ?::UUID;

-- name: notebook_property_condition
SELECT * FROM condition_assessments WHERE property_id = ?::UUID;

-- name: notebook_property_environment
SELECT * FROM environmental_assessments WHERE property_id = ?::UUID;

-- name: notebook_property_title
SELECT * FROM title_research WHERE property_id = ?::UUID;

-- name: notebook_property_liens
SELECT * FROM property_liens WHERE property_id = ?::UUID;

-- name: notebook_property_bid
SELECT b.*, o.out_of_date
FROM bid_strategies b JOIN vw_bid_out_of_date o ON o.property_id = b.property_id
WHERE b.property_id = ?::UUID;

-- name: notebook_county_links
SELECT cr.status, cr.notes, cr.links, cr.source, cr.researched_at
FROM county_research cr WHERE cr.county_id = ?::INTEGER;

-- name: notebook_county_sales
SELECT sale_type, sale_date, registration_deadline, deposit, location, platform, source
FROM upcoming_sales WHERE county_id = ?::INTEGER ORDER BY sale_date;

-- name: notebook_session_times
SELECT s.started_at, s.ended_at, j.job_type, s.items, s.failed, s.outcome
FROM sessions s JOIN batch_jobs j ON j.id = s.job_id ORDER BY s.started_at;

-- name: notebook_job_items
SELECT j.id::VARCHAR AS job_id, j.job_type, j.status, j.total_items, j.processed_items,
       j.failed_items, j.skipped_items
FROM batch_jobs j WHERE j.status IN ('pending', 'in_progress', 'paused') ORDER BY j.updated_at DESC;

-- name: notebook_next_item
SELECT seq FROM batch_job_items
WHERE job_id = ?::UUID AND (status = 'pending' OR (status = 'claimed' AND claimed_by = ?))
ORDER BY CASE WHEN status = 'claimed' THEN 0 ELSE 1 END, seq
LIMIT 1;
