-- Onboarding: proposals (create, update, retire; later drift) and the applied revisions.
-- Portable SQL: the same file applies to SQLite and PostgreSQL. Times are Unix milliseconds,
-- JSON is TEXT, ids are UUID text.

CREATE TABLE proposals (
    id              TEXT PRIMARY KEY,
    -- 'create', 'update' or 'retire' ('drift' is reserved for schema drift reviews).
    kind            TEXT NOT NULL,
    namespace       TEXT NOT NULL,
    name            TEXT NOT NULL,
    author_subject  TEXT NOT NULL,
    author_name     TEXT NOT NULL,
    -- The team whose owners review it: the proposed owner team for a create, the server's
    -- owner team when proposed otherwise.
    owner_team      TEXT NOT NULL,
    -- The server's current revision number when proposed; NULL for a create.
    base_revision   BIGINT,
    -- The proposed MCPServer spec (JSON object); '{}' for a retire.
    spec            TEXT NOT NULL,
    -- The proposed metadata (JSON object: description, ownerTeam, ..., published; for a retire:
    -- replacement and message).
    metadata        TEXT NOT NULL,
    -- 'open', 'approved' (being applied), 'applied', 'failed', 'rejected' or 'superseded'.
    status          TEXT NOT NULL,
    -- Optimistic lock: every change of the row increments it, guarded by the value read.
    version         BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    decided_by      TEXT,
    decided_by_name TEXT,
    decided_at      BIGINT,
    decision_comment TEXT,
    -- An admin's reason for approving despite error-level policy findings.
    override_reason TEXT,
    -- Why applying failed, or why the proposal was superseded.
    error           TEXT
);

CREATE INDEX proposals_status ON proposals (status, created_at);
CREATE INDEX proposals_target ON proposals (namespace, name);
CREATE INDEX proposals_team ON proposals (owner_team, status);

-- Every applied revision of a server, kept so any two can be diffed. Direct registrations by
-- an admin are revisions too (proposal_id NULL).
CREATE TABLE server_revisions (
    id          TEXT PRIMARY KEY,
    namespace   TEXT NOT NULL,
    name        TEXT NOT NULL,
    number      BIGINT NOT NULL,
    -- The exact manifest YAML that was applied.
    manifest    TEXT NOT NULL,
    -- The applied spec and metadata as JSON, for diffs.
    spec        TEXT NOT NULL,
    metadata    TEXT NOT NULL,
    proposal_id TEXT REFERENCES proposals (id),
    actor       TEXT NOT NULL,
    applied_at  BIGINT NOT NULL,
    CONSTRAINT server_revisions_number UNIQUE (namespace, name, number)
);
