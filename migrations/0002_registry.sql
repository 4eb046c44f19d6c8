-- Live tool snapshots, the approved baseline, and health samples.

CREATE TABLE tool_snapshots (
    id               TEXT PRIMARY KEY,
    server_id        TEXT NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
    fetched_at       BIGINT NOT NULL,
    content_hash     TEXT NOT NULL,
    server_name      TEXT NOT NULL,
    server_version   TEXT NOT NULL,
    protocol_version TEXT NOT NULL,
    capabilities     TEXT NOT NULL,
    tools            TEXT NOT NULL,
    tool_count       BIGINT NOT NULL,
    findings         TEXT NOT NULL,
    -- The structured diff against the baseline at the time of the fetch; NULL for a baseline.
    drift            TEXT
);

CREATE INDEX tool_snapshots_server ON tool_snapshots (server_id, fetched_at);

-- The approved baseline and the newest snapshot of each server.
ALTER TABLE servers ADD COLUMN baseline_snapshot_id TEXT;
ALTER TABLE servers ADD COLUMN latest_snapshot_id TEXT;

CREATE TABLE health_samples (
    id         TEXT PRIMARY KEY,
    server_id  TEXT NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
    at         BIGINT NOT NULL,
    ok         BOOLEAN NOT NULL,
    latency_ms BIGINT NOT NULL,
    error      TEXT
);

CREATE INDEX health_samples_server ON health_samples (server_id, at);
