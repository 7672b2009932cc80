-- 0001: the data model of DESIGN.md. Timestamps are UTC (TIMESTAMP without zone).

CREATE TABLE counties (
    id            INTEGER PRIMARY KEY,
    county_name   VARCHAR NOT NULL,
    state         VARCHAR NOT NULL DEFAULT 'PA',
    fips          VARCHAR NOT NULL UNIQUE,
    regrid_path   VARCHAR
);

CREATE TABLE upcoming_sales (
    id                     UUID PRIMARY KEY DEFAULT uuid(),
    county_id              INTEGER NOT NULL,
    sale_type              VARCHAR NOT NULL,
    sale_date              DATE,
    registration_deadline  DATE,
    deposit                VARCHAR,
    payment_terms          VARCHAR,
    bidder_certification   VARCHAR,
    location               VARCHAR,
    platform               VARCHAR,
    source                 VARCHAR,
    researched_at          TIMESTAMP
);

CREATE TABLE documents (
    id             UUID PRIMARY KEY,
    county_id      INTEGER NOT NULL,
    document_type  VARCHAR NOT NULL DEFAULT 'property_list',
    path           VARCHAR,
    url            VARCHAR,
    sha256         VARCHAR UNIQUE,
    sale_type      VARCHAR,
    sale_date      DATE,
    parse_status   VARCHAR NOT NULL DEFAULT 'pending',
    layout         VARCHAR,
    page_count     INTEGER,
    rows_parsed    INTEGER,
    rows_failed    INTEGER,
    parse_error    VARCHAR,
    added_at       TIMESTAMP NOT NULL,
    parsed_at      TIMESTAMP
);

CREATE TABLE properties (
    id              UUID PRIMARY KEY,
    county_id       INTEGER NOT NULL,
    parcel_id       VARCHAR NOT NULL,
    parcel_norm     VARCHAR NOT NULL,
    control_number  VARCHAR,
    address         VARCHAR,
    municipality    VARCHAR,
    owner           VARCHAR,
    description     VARCHAR,
    upset_price     DECIMAL(14, 2),
    sale_type       VARCHAR,
    sale_date       DATE,
    auction_status  VARCHAR NOT NULL DEFAULT 'active',
    document_id     UUID,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    UNIQUE (county_id, parcel_norm)
);

CREATE TABLE parsing_errors (
    document_id  UUID NOT NULL,
    page         INTEGER,
    raw_text     VARCHAR,
    reason       VARCHAR,
    created_at   TIMESTAMP NOT NULL
);

CREATE TABLE regrid_data (
    property_id              UUID PRIMARY KEY,
    job_id                   UUID,
    source                   VARCHAR,
    ll_uuid                  VARCHAR,
    parcelnumb               VARCHAR,
    parcelnumb_norm          VARCHAR,
    address                  VARCHAR,
    city                     VARCHAR,
    zip                      VARCHAR,
    usecode                  VARCHAR,
    usedesc                  VARCHAR,
    zoning                   VARCHAR,
    zoning_description       VARCHAR,
    lot_acres                DOUBLE,
    lot_sqft                 DOUBLE,
    bldg_footprint_sqft      DOUBLE,
    bldg_count               INTEGER,
    year_built               INTEGER,
    land_value               DOUBLE,
    improvement_value        DOUBLE,
    total_value              DOUBLE,
    lat                      DOUBLE,
    lon                      DOUBLE,
    owner                    VARCHAR,
    mail_address             VARCHAR,
    mail_city                VARCHAR,
    mail_state               VARCHAR,
    mail_zip                 VARCHAR,
    usps_vacancy             VARCHAR,
    fema_flood_zone          VARCHAR,
    fema_flood_zone_subtype  VARCHAR,
    geometry_geojson         VARCHAR,
    width_ft                 DOUBLE,
    aspect_ratio             DOUBLE,
    compactness              DOUBLE,
    sketch_path              VARCHAR,
    raw_json                 VARCHAR,
    fetched_at               TIMESTAMP NOT NULL
);

CREATE TABLE visual_validations (
    property_id       UUID PRIMARY KEY,
    job_id            UUID,
    verdict           VARCHAR NOT NULL,
    reasons           VARCHAR,
    inputs_used       VARCHAR,
    confidence        DOUBLE,
    override_verdict  VARCHAR,
    override_note     VARCHAR,
    overridden_at     TIMESTAMP,
    validated_at      TIMESTAMP NOT NULL
);

CREATE TABLE condition_assessments (
    property_id      UUID PRIMARY KEY,
    job_id           UUID,
    grade            VARCHAR,
    repair_estimate  DOUBLE,
    manual_grade     VARCHAR,
    reasons          VARCHAR,
    inputs_used      VARCHAR,
    confidence       DOUBLE,
    assessed_at      TIMESTAMP NOT NULL
);

CREATE TABLE environmental_assessments (
    property_id      UUID PRIMARY KEY,
    job_id           UUID,
    flood_zone       VARCHAR,
    flood_sfha       BOOLEAN,
    flood_source     VARCHAR,
    epa_facilities   INTEGER,
    epa_details      VARCHAR,
    wetlands         BOOLEAN,
    wetland_details  VARCHAR,
    mine_subsidence  VARCHAR,
    risk_level       VARCHAR,
    reasons          VARCHAR,
    inputs_used      VARCHAR,
    confidence       DOUBLE,
    assessed_at      TIMESTAMP NOT NULL
);

CREATE TABLE property_liens (
    property_id    UUID NOT NULL,
    lien_type      VARCHAR NOT NULL,
    holder         VARCHAR,
    amount         DOUBLE,
    recorded_date  DATE,
    source         VARCHAR,
    added_at       TIMESTAMP NOT NULL
);

CREATE TABLE title_research (
    property_id      UUID PRIMARY KEY,
    job_id           UUID,
    status           VARCHAR NOT NULL,
    surviving_liens  VARCHAR,
    surviving_total  DOUBLE,
    redemption_risk  BOOLEAN,
    reasons          VARCHAR,
    confidence       DOUBLE,
    researched_at    TIMESTAMP NOT NULL
);

CREATE TABLE bid_strategies (
    property_id           UUID PRIMARY KEY,
    job_id                UUID,
    market_value          DOUBLE,
    market_value_source   VARCHAR,
    max_bid_conservative  DOUBLE,
    max_bid_moderate      DOUBLE,
    max_bid_aggressive    DOUBLE,
    decision              VARCHAR,
    confidence            DOUBLE,
    missing_inputs        VARCHAR,
    inputs_used           VARCHAR,
    reasons               VARCHAR,
    calculated_at         TIMESTAMP NOT NULL
);

CREATE TABLE county_research (
    county_id      INTEGER NOT NULL,
    job_id         UUID,
    status         VARCHAR NOT NULL,
    notes          VARCHAR,
    links          VARCHAR,
    source         VARCHAR,
    researched_at  TIMESTAMP NOT NULL
);

CREATE TABLE job_types (
    job_type     VARCHAR PRIMARY KEY,
    batch_size   INTEGER NOT NULL,
    per_session  INTEGER NOT NULL,
    item_kind    VARCHAR NOT NULL,
    description  VARCHAR
);

CREATE TABLE batch_jobs (
    id                        UUID PRIMARY KEY,
    job_type                  VARCHAR NOT NULL,
    county_id                 INTEGER,
    batch_size                INTEGER NOT NULL,
    strategy                  VARCHAR NOT NULL,
    status                    VARCHAR NOT NULL,
    total_items               INTEGER NOT NULL,
    processed_items           INTEGER NOT NULL DEFAULT 0,
    failed_items              INTEGER NOT NULL DEFAULT 0,
    skipped_items             INTEGER NOT NULL DEFAULT 0,
    current_batch             INTEGER NOT NULL DEFAULT 0,
    total_batches             INTEGER NOT NULL,
    consecutive_failures      INTEGER NOT NULL DEFAULT 0,
    max_consecutive_failures  INTEGER NOT NULL DEFAULT 10,
    last_item_id              VARCHAR,
    last_error                VARCHAR,
    pause_reason              VARCHAR,
    created_by                VARCHAR,
    created_at                TIMESTAMP NOT NULL,
    started_at                TIMESTAMP,
    paused_at                 TIMESTAMP,
    completed_at              TIMESTAMP,
    cancelled_at              TIMESTAMP,
    updated_at                TIMESTAMP NOT NULL
);

-- No index on purpose: DuckDB scans a job's items in milliseconds, and an ART
-- index over millions of rows would live in memory and slow every status update.
CREATE TABLE batch_job_items (
    job_id            UUID NOT NULL,
    seq               INTEGER NOT NULL,
    item_id           VARCHAR NOT NULL,
    county_id         INTEGER,
    status            VARCHAR NOT NULL DEFAULT 'pending',
    attempts          INTEGER NOT NULL DEFAULT 0,
    error             VARCHAR,
    claimed_by        VARCHAR,
    lease_expires_at  TIMESTAMP,
    started_at        TIMESTAMP,
    finished_at       TIMESTAMP
);

CREATE TABLE batch_events (
    job_id     UUID NOT NULL,
    event      VARCHAR NOT NULL,
    detail     VARCHAR,
    worker     VARCHAR,
    occurred_at  TIMESTAMP NOT NULL
);

CREATE TABLE sessions (
    id           UUID PRIMARY KEY,
    job_id       UUID NOT NULL,
    worker       VARCHAR,
    started_at   TIMESTAMP NOT NULL,
    ended_at     TIMESTAMP,
    items        INTEGER NOT NULL DEFAULT 0,
    failed       INTEGER NOT NULL DEFAULT 0,
    outcome      VARCHAR,
    message      VARCHAR,
    record_path  VARCHAR
);
