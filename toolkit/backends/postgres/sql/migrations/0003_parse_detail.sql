-- 0003: what the sale-list parser read for each property, so a person can check
-- a doubtful row against the PDF: the row's raw text, the parser's confidence
-- (0..1), why it is below 1 (JSON list), and layout-only fields such as the
-- mailing address, lot size and assessment of printer reports (JSON object).

ALTER TABLE properties ADD COLUMN raw_text TEXT;
ALTER TABLE properties ADD COLUMN parse_confidence DOUBLE PRECISION;
ALTER TABLE properties ADD COLUMN parse_issues TEXT;
ALTER TABLE properties ADD COLUMN parse_extra TEXT;
