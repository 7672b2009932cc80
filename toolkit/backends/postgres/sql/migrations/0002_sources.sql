-- 0002: where parcel data comes from, and the user's CLR factor table.

CREATE TABLE bulk_files (
    county_id  INTEGER NOT NULL,
    path       TEXT NOT NULL,
    format     TEXT,
    added_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (county_id, path)
);

-- Common level ratio real estate valuation factors, published each year by PA's
-- Department of Revenue in the Pennsylvania Bulletin; user-editable, with a source.
CREATE TABLE clr_factors (
    county_id   INTEGER NOT NULL,
    factor      DOUBLE PRECISION NOT NULL,
    valid_from  DATE,
    valid_to    DATE,
    source      TEXT NOT NULL,
    added_at    TIMESTAMP NOT NULL
);
