-- 0001 (Postgres): the data model of DESIGN.md, as the DuckDB migration 0001 with
-- Postgres types (TEXT, DOUBLE PRECISION). Timestamps are UTC (TIMESTAMP without zone).

CREATE TABLE counties (
    id            INTEGER PRIMARY KEY,
    county_name   TEXT NOT NULL,
    state         TEXT NOT NULL DEFAULT 'PA',
    fips          TEXT NOT NULL UNIQUE,
    regrid_path   TEXT
);

CREATE TABLE upcoming_sales (
    id                     UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    county_id              INTEGER NOT NULL,
    sale_type              TEXT NOT NULL,
    sale_date              DATE,
    registration_deadline  DATE,
    deposit                TEXT,
    payment_terms          TEXT,
    bidder_certification   TEXT,
    location               TEXT,
    platform               TEXT,
    source                 TEXT,
    researched_at          TIMESTAMP
);

CREATE TABLE documents (
    id             UUID PRIMARY KEY,
    county_id      INTEGER NOT NULL,
    document_type  TEXT NOT NULL DEFAULT 'property_list',
    path           TEXT,
    url            TEXT,
    sha256         TEXT UNIQUE,
    sale_type      TEXT,
    sale_date      DATE,
    parse_status   TEXT NOT NULL DEFAULT 'pending',
    layout         TEXT,
    page_count     INTEGER,
    rows_parsed    INTEGER,
    rows_failed    INTEGER,
    parse_error    TEXT,
    added_at       TIMESTAMP NOT NULL,
    parsed_at      TIMESTAMP
);

CREATE TABLE properties (
    id              UUID PRIMARY KEY,
    county_id       INTEGER NOT NULL,
    parcel_id       TEXT NOT NULL,
    parcel_norm     TEXT NOT NULL,
    control_number  TEXT,
    address         TEXT,
    municipality    TEXT,
    owner           TEXT,
    description     TEXT,
    upset_price     DECIMAL(14, 2),
    sale_type       TEXT,
    sale_date       DATE,
    auction_status  TEXT NOT NULL DEFAULT 'active',
    document_id     UUID,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    UNIQUE (county_id, parcel_norm)
);

CREATE TABLE parsing_errors (
    document_id  UUID NOT NULL,
    page         INTEGER,
    raw_text     TEXT,
    reason       TEXT,
    created_at   TIMESTAMP NOT NULL
);

CREATE TABLE regrid_data (
    property_id              UUID PRIMARY KEY,
    job_id                   UUID,
    source                   TEXT,
    ll_uuid                  TEXT,
    parcelnumb               TEXT,
    parcelnumb_norm          TEXT,
    address                  TEXT,
    city                     TEXT,
    zip                      TEXT,
    usecode                  TEXT,
    usedesc                  TEXT,
    zoning                   TEXT,
    zoning_description       TEXT,
    lot_acres                DOUBLE PRECISION,
    lot_sqft                 DOUBLE PRECISION,
    bldg_footprint_sqft      DOUBLE PRECISION,
    bldg_count               INTEGER,
    year_built               INTEGER,
    land_value               DOUBLE PRECISION,
    improvement_value        DOUBLE PRECISION,
    total_value              DOUBLE PRECISION,
    lat                      DOUBLE PRECISION,
    lon                      DOUBLE PRECISION,
    owner                    TEXT,
    mail_address             TEXT,
    mail_city                TEXT,
    mail_state               TEXT,
    mail_zip                 TEXT,
    usps_vacancy             TEXT,
    fema_flood_zone          TEXT,
    fema_flood_zone_subtype  TEXT,
    geometry_geojson         TEXT,
    width_ft                 DOUBLE PRECISION,
    aspect_ratio             DOUBLE PRECISION,
    compactness              DOUBLE PRECISION,
    sketch_path              TEXT,
    raw_json                 TEXT,
    fetched_at               TIMESTAMP NOT NULL
);

CREATE TABLE visual_validations (
    property_id       UUID PRIMARY KEY,
    job_id            UUID,
    verdict           TEXT NOT NULL,
    reasons           TEXT,
    inputs_used       TEXT,
    confidence        DOUBLE PRECISION,
    override_verdict  TEXT,
    override_note     TEXT,
    overridden_at     TIMESTAMP,
    validated_at      TIMESTAMP NOT NULL
);

CREATE TABLE condition_assessments (
    property_id      UUID PRIMARY KEY,
    job_id           UUID,
    grade            TEXT,
    repair_estimate  DOUBLE PRECISION,
    manual_grade     TEXT,
    reasons          TEXT,
    inputs_used      TEXT,
    confidence       DOUBLE PRECISION,
    assessed_at      TIMESTAMP NOT NULL
);

CREATE TABLE environmental_assessments (
    property_id      UUID PRIMARY KEY,
    job_id           UUID,
    flood_zone       TEXT,
    flood_sfha       BOOLEAN,
    flood_source     TEXT,
    epa_facilities   INTEGER,
    epa_details      TEXT,
    wetlands         BOOLEAN,
    wetland_details  TEXT,
    mine_subsidence  TEXT,
    risk_level       TEXT,
    reasons          TEXT,
    inputs_used      TEXT,
    confidence       DOUBLE PRECISION,
    assessed_at      TIMESTAMP NOT NULL
);

CREATE TABLE property_liens (
    property_id    UUID NOT NULL,
    lien_type      TEXT NOT NULL,
    holder         TEXT,
    amount         DOUBLE PRECISION,
    recorded_date  DATE,
    source         TEXT,
    added_at       TIMESTAMP NOT NULL
);

CREATE TABLE title_research (
    property_id      UUID PRIMARY KEY,
    job_id           UUID,
    status           TEXT NOT NULL,
    surviving_liens  TEXT,
    surviving_total  DOUBLE PRECISION,
    redemption_risk  BOOLEAN,
    reasons          TEXT,
    confidence       DOUBLE PRECISION,
    researched_at    TIMESTAMP NOT NULL
);

CREATE TABLE bid_strategies (
    property_id           UUID PRIMARY KEY,
    job_id                UUID,
    market_value          DOUBLE PRECISION,
    market_value_source   TEXT,
    max_bid_conservative  DOUBLE PRECISION,
    max_bid_moderate      DOUBLE PRECISION,
    max_bid_aggressive    DOUBLE PRECISION,
    decision              TEXT,
    confidence            DOUBLE PRECISION,
    missing_inputs        TEXT,
    inputs_used           TEXT,
    reasons               TEXT,
    calculated_at         TIMESTAMP NOT NULL
);

CREATE TABLE county_research (
    county_id      INTEGER NOT NULL,
    job_id         UUID,
    status         TEXT NOT NULL,
    notes          TEXT,
    links          TEXT,
    source         TEXT,
    researched_at  TIMESTAMP NOT NULL
);

CREATE TABLE job_types (
    job_type     TEXT PRIMARY KEY,
    batch_size   INTEGER NOT NULL,
    per_session  INTEGER NOT NULL,
    item_kind    TEXT NOT NULL,
    description  TEXT
);

CREATE TABLE batch_jobs (
    id                        UUID PRIMARY KEY,
    job_type                  TEXT NOT NULL,
    county_id                 INTEGER,
    batch_size                INTEGER NOT NULL,
    strategy                  TEXT NOT NULL,
    status                    TEXT NOT NULL,
    total_items               INTEGER NOT NULL,
    processed_items           INTEGER NOT NULL DEFAULT 0,
    failed_items              INTEGER NOT NULL DEFAULT 0,
    skipped_items             INTEGER NOT NULL DEFAULT 0,
    current_batch             INTEGER NOT NULL DEFAULT 0,
    total_batches             INTEGER NOT NULL,
    consecutive_failures      INTEGER NOT NULL DEFAULT 0,
    max_consecutive_failures  INTEGER NOT NULL DEFAULT 10,
    last_item_id              TEXT,
    last_error                TEXT,
    pause_reason              TEXT,
    created_by                TEXT,
    created_at                TIMESTAMP NOT NULL,
    started_at                TIMESTAMP,
    paused_at                 TIMESTAMP,
    completed_at              TIMESTAMP,
    cancelled_at              TIMESTAMP,
    updated_at                TIMESTAMP NOT NULL
);

-- Unlike DuckDB, Postgres needs indexes here: many workers claim with
-- FOR UPDATE SKIP LOCKED, and the partial indexes keep each claim an index probe.
CREATE TABLE batch_job_items (
    job_id            UUID NOT NULL,
    seq               INTEGER NOT NULL,
    item_id           TEXT NOT NULL,
    county_id         INTEGER,
    status            TEXT NOT NULL DEFAULT 'pending',
    attempts          INTEGER NOT NULL DEFAULT 0,
    error             TEXT,
    claimed_by        TEXT,
    lease_expires_at  TIMESTAMP,
    started_at        TIMESTAMP,
    finished_at       TIMESTAMP,
    PRIMARY KEY (job_id, seq)
);

CREATE INDEX batch_job_items_item ON batch_job_items (job_id, item_id);
CREATE INDEX batch_job_items_pending ON batch_job_items (job_id, seq) WHERE status = 'pending';
CREATE INDEX batch_job_items_claimed ON batch_job_items (job_id, lease_expires_at) WHERE status = 'claimed';
CREATE INDEX batch_job_items_done ON batch_job_items (item_id) WHERE status = 'done';

CREATE TABLE batch_events (
    job_id     UUID NOT NULL,
    event      TEXT NOT NULL,
    detail     TEXT,
    worker     TEXT,
    occurred_at  TIMESTAMP NOT NULL
);

CREATE INDEX batch_events_job ON batch_events (job_id, occurred_at);

CREATE TABLE sessions (
    id           UUID PRIMARY KEY,
    job_id       UUID NOT NULL,
    worker       TEXT,
    started_at   TIMESTAMP NOT NULL,
    ended_at     TIMESTAMP,
    items        INTEGER NOT NULL DEFAULT 0,
    failed       INTEGER NOT NULL DEFAULT 0,
    outcome      TEXT,
    message      TEXT,
    record_path  TEXT
);

CREATE INDEX sessions_job ON sessions (job_id);
CREATE INDEX batch_jobs_status ON batch_jobs (status, updated_at);
