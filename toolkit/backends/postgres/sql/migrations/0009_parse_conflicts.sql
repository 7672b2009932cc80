-- 0009: a parsed value that differs from what an earlier document (or an import) said for
-- the same parcel is not written over it: the property keeps the earlier value and the
-- difference is recorded here, for a person to decide (docs/sale-lists.md).
CREATE TABLE parse_conflicts (
    document_id          UUID NOT NULL,
    county_id            INTEGER NOT NULL,
    parcel_id            TEXT NOT NULL,
    parcel_norm          TEXT NOT NULL,
    field                TEXT NOT NULL,
    value                TEXT,
    earlier_value        TEXT,
    earlier_document_id  UUID,
    page                 INTEGER,
    created_at           TIMESTAMP NOT NULL
);
