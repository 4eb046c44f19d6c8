-- Virtual servers (issue #21): one gateway endpoint that shows a curated selection of the
-- tools of several published servers. A name is either a server's or a virtual server's.
-- Portable SQL: the same file applies to SQLite and PostgreSQL.

CREATE TABLE virtual_servers (
    id          TEXT PRIMARY KEY,
    namespace   TEXT NOT NULL,
    name        TEXT NOT NULL,
    -- The admin's definition (JSON object: description, ownerTeam, access, members, ...).
    spec        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    updated_by  TEXT NOT NULL,
    CONSTRAINT virtual_servers_name UNIQUE (namespace, name)
);
