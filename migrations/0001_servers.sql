-- Servers and the append-only audit log.
-- Portable SQL: the same file applies to SQLite and PostgreSQL. Times are Unix milliseconds,
-- JSON is TEXT, ids are UUID text.

CREATE TABLE servers (
    id          TEXT PRIMARY KEY,
    namespace   TEXT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    owner_team  TEXT NOT NULL DEFAULT '',
    category    TEXT NOT NULL DEFAULT '',
    cost_class  TEXT NOT NULL DEFAULT '',
    sensitivity TEXT NOT NULL DEFAULT '',
    tags        TEXT NOT NULL DEFAULT '[]',
    docs_url    TEXT NOT NULL DEFAULT '',
    transport   TEXT NOT NULL,
    spec        TEXT NOT NULL,
    lifecycle   TEXT NOT NULL DEFAULT 'active',
    replacement TEXT,
    published   BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    CONSTRAINT servers_namespace_name UNIQUE (namespace, name)
);

CREATE INDEX servers_updated_at ON servers (updated_at);

CREATE TABLE audit_events (
    id          TEXT PRIMARY KEY,
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    before_hash TEXT,
    after_hash  TEXT
);

CREATE INDEX audit_events_at ON audit_events (at);
