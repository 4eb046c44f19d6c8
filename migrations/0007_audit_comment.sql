-- A reviewer's comment on the audited step (a decision, a drift approval), when it has one.
ALTER TABLE audit_events ADD COLUMN comment TEXT;
