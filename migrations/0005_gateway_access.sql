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
