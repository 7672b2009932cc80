-- 0009: a parsed value that differs from what an earlier document (or an import) said for
-- the same parcel is not written over it: the property keeps the earlier value and the
-- difference is recorded here, for a person to decide (docs/sale-lists.md).
CREATE TABLE parse_conflicts (
    document_id          UUID NOT NULL,
    county_id            INTEGER NOT NULL,
    parcel_id            VARCHAR NOT NULL,
    parcel_norm          VARCHAR NOT NULL,
    field                VARCHAR NOT NULL,
    value                VARCHAR,
    earlier_value        VARCHAR,
    earlier_document_id  UUID,
    page                 INTEGER,
    created_at           TIMESTAMP NOT NULL
);
