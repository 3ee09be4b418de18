-- Accounts, second round (see the SQLite migration of the same name).

ALTER TABLE users ADD COLUMN sessions_valid_after BIGINT NOT NULL DEFAULT 0;
-- The one session that time spares: the one that changed the password,
-- which stays signed in. NULL: none.
ALTER TABLE users ADD COLUMN sessions_valid_after_spares TEXT;

CREATE TABLE server_secrets (
    name       TEXT PRIMARY KEY,
    secret     BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);

DELETE FROM login_failures;
CREATE INDEX login_failures_by_time ON login_failures (last_failure_at);

-- Updates and TRUNCATE stay refused outright; a deletion only for events
-- older than 30 days by the database's own clock.
DROP TRIGGER audit_events_no_change ON audit_events;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_recent_delete BEFORE DELETE ON audit_events
    FOR EACH ROW WHEN (OLD.at > (extract(epoch FROM now()) - 30 * 86400) * 1000)
    EXECUTE FUNCTION audit_events_append_only();
