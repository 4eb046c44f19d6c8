-- How long a fetch waited for a local server to start (NULL when it was already running, or
-- for fetches of remote servers), kept apart from `latency_ms`, the fetch's own round trip.
ALTER TABLE health_samples ADD COLUMN startup_ms BIGINT;
