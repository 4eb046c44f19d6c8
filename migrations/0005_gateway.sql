-- Who may use a server through the gateway when sign-in is on. One row per server with a
-- policy; no row means any signed-in holder of an Apiary role with a bearer token.
-- Portable SQL (SQLite and PostgreSQL): times are Unix milliseconds, JSON is TEXT.

CREATE TABLE gateway_access (
    server_id  TEXT PRIMARY KEY REFERENCES servers (id) ON DELETE CASCADE,
    -- JSON object: { "anonymous": bool, "roles": [..], "teams": [..] }.
    policy     TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);

-- What the gateway measured, one row per server and tool per sampling interval (only
-- intervals with calls). `tool` '' is the server's total over all its tools. Latency is kept
-- as counts per bucket (JSON array; upper bounds in `gateway::usage::BUCKETS_MS`), so any
-- span of rows can be summed into exact bucket counts; p50 and p95 are those of the row.
CREATE TABLE gateway_samples (
    id         TEXT PRIMARY KEY,
    server_id  TEXT NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
    tool       TEXT NOT NULL,
    at         BIGINT NOT NULL,
    calls      BIGINT NOT NULL,
    errors     BIGINT NOT NULL,
    p50_ms     BIGINT NOT NULL,
    p95_ms     BIGINT NOT NULL,
    max_ms     BIGINT NOT NULL,
    buckets    TEXT NOT NULL
);

CREATE INDEX gateway_samples_server ON gateway_samples (server_id, tool, at);
