-- Each signed-in session with the provider's `sub` and session id (`sid`), so an OIDC
-- back-channel logout finds the sessions to end, whichever replica receives it. The session
-- data itself lives in the tower-sessions table.
CREATE TABLE signed_in_sessions (
    session_id   TEXT PRIMARY KEY,
    sub          TEXT NOT NULL,
    sid          TEXT,
    -- Unix seconds; rows older than the session maximum age are removed.
    signed_in_at BIGINT NOT NULL
);

CREATE INDEX signed_in_sessions_sub ON signed_in_sessions (sub);
CREATE INDEX signed_in_sessions_sid ON signed_in_sessions (sid);
