-- 0008 (issue 12): each bid carries its arithmetic and the sale's own minimum; redemption
-- risk carries its period; a person can mark a judicial sale's notice as confirmed.
ALTER TABLE bid_strategies ADD COLUMN breakdown TEXT;               -- JSON: formula, terms, result
ALTER TABLE bid_strategies ADD COLUMN minimum_bid DOUBLE PRECISION;
ALTER TABLE bid_strategies ADD COLUMN minimum_bid_source TEXT;      -- upset price / starting bid
ALTER TABLE bid_strategies ADD COLUMN environmental_risk TEXT;
ALTER TABLE bid_strategies ADD COLUMN redemption_risk BOOLEAN;
ALTER TABLE bid_strategies ADD COLUMN redemption_period TEXT;
ALTER TABLE title_research ADD COLUMN redemption_period TEXT;

-- A judicial sale clears liens only when notice was proper; a person confirms it here.
CREATE TABLE notice_confirmations (
    property_id   UUID NOT NULL,
    confirmed_at  TIMESTAMP NOT NULL,
    note          TEXT
);
