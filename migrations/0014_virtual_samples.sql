-- What the gateway measured at virtual servers' endpoints (issue #21), shaped as
-- `gateway_samples`: one row per virtual server and tool (its published name) per sampling
-- interval with calls, `tool` '' the total. Apart from `gateway_samples` because a name is
-- either a server's or a virtual server's, and each table's rows go with its owner.
CREATE TABLE virtual_samples (
    id                TEXT PRIMARY KEY,
    virtual_server_id TEXT NOT NULL REFERENCES virtual_servers (id) ON DELETE CASCADE,
    tool              TEXT NOT NULL,
    at                BIGINT NOT NULL,
    calls             BIGINT NOT NULL,
    errors            BIGINT NOT NULL,
    p50_ms            BIGINT NOT NULL,
    p95_ms            BIGINT NOT NULL,
    max_ms            BIGINT NOT NULL,
    buckets           TEXT NOT NULL
);

CREATE INDEX virtual_samples_server ON virtual_samples (virtual_server_id, tool, at);
