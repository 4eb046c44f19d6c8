-- Who did it, as people know them: the display name at the time (`name`, else
-- `preferred_username`, else `email`; a machine client's id) beside the stable subject.
-- NULL for entries written before it was recorded.
ALTER TABLE audit_events ADD COLUMN actor_name TEXT;
