-- 0006: facts about the workspace itself, one row per key. The demo writes
-- kind = 'demo': only a workspace the demo made may be replaced by the demo, and
-- only a demo workspace reads the SYNTHETIC sample layers.

CREATE TABLE workspace_meta (
    key         VARCHAR PRIMARY KEY,
    value       VARCHAR NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);
