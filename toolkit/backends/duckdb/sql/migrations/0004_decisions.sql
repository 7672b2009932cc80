-- 0004: what the decision rules report beyond the first schema, and title searches.

ALTER TABLE condition_assessments ADD COLUMN computed_grade VARCHAR;
ALTER TABLE condition_assessments ADD COLUMN score DOUBLE;
ALTER TABLE condition_assessments ADD COLUMN signals VARCHAR;
ALTER TABLE condition_assessments ADD COLUMN repair_per_sqft DOUBLE;

ALTER TABLE bid_strategies ADD COLUMN upset_price DOUBLE;
ALTER TABLE bid_strategies ADD COLUMN clr_factor DOUBLE;
ALTER TABLE bid_strategies ADD COLUMN clr_source VARCHAR;
ALTER TABLE bid_strategies ADD COLUMN repairs DOUBLE;
ALTER TABLE bid_strategies ADD COLUMN surviving_liens_total DOUBLE;
ALTER TABLE bid_strategies ADD COLUMN transfer_tax DOUBLE;
ALTER TABLE bid_strategies ADD COLUMN selling_costs DOUBLE;

-- A title search that was done, whether or not it found liens (liens are in property_liens).
CREATE TABLE title_searches (
    property_id  UUID NOT NULL,
    searched_at  TIMESTAMP NOT NULL,
    source       VARCHAR
);
