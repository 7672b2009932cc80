-- 0004: what the decision rules report beyond the first schema, and title searches.

ALTER TABLE condition_assessments ADD COLUMN computed_grade TEXT;
ALTER TABLE condition_assessments ADD COLUMN score DOUBLE PRECISION;
ALTER TABLE condition_assessments ADD COLUMN signals TEXT;
ALTER TABLE condition_assessments ADD COLUMN repair_per_sqft DOUBLE PRECISION;

ALTER TABLE bid_strategies ADD COLUMN upset_price DOUBLE PRECISION;
ALTER TABLE bid_strategies ADD COLUMN clr_factor DOUBLE PRECISION;
ALTER TABLE bid_strategies ADD COLUMN clr_source TEXT;
ALTER TABLE bid_strategies ADD COLUMN repairs DOUBLE PRECISION;
ALTER TABLE bid_strategies ADD COLUMN surviving_liens_total DOUBLE PRECISION;
ALTER TABLE bid_strategies ADD COLUMN transfer_tax DOUBLE PRECISION;
ALTER TABLE bid_strategies ADD COLUMN selling_costs DOUBLE PRECISION;

-- A title search that was done, whether or not it found liens (liens are in property_liens).
CREATE TABLE title_searches (
    property_id  UUID NOT NULL,
    searched_at  TIMESTAMP NOT NULL,
    source       TEXT
);
