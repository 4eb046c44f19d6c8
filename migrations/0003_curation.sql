-- Curation: which of a server's published tools consumers see, and under which name,
-- description and annotations. One row per curated server; no row means every published tool,
-- unchanged. Portable SQL (SQLite and PostgreSQL): times are Unix milliseconds, JSON is TEXT.

CREATE TABLE tool_curations (
    server_id   TEXT PRIMARY KEY REFERENCES servers (id) ON DELETE CASCADE,
    -- JSON array of globs (`*`, `?`); empty: every tool is allowed.
    allow_globs TEXT NOT NULL DEFAULT '[]',
    -- JSON array of globs; a match hides the tool.
    deny_globs  TEXT NOT NULL DEFAULT '[]',
    -- JSON array of exact tool names to hide.
    hidden      TEXT NOT NULL DEFAULT '[]',
    -- JSON object: the server's tool name -> { "name", "description", "annotations" }.
    overrides   TEXT NOT NULL DEFAULT '{}',
    -- How the gateway refuses a call of a tool that is not published: 'error' (a JSON-RPC
    -- error, as the MCP spec says) or 'result' (a tool result with isError, as servers built
    -- on the TypeScript SDK answer).
    unknown_tools TEXT NOT NULL DEFAULT 'error',
    updated_at  BIGINT NOT NULL,
    updated_by  TEXT NOT NULL
);
