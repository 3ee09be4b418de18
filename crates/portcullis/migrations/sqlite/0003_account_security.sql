-- Accounts, second round (issue 13): sessions that a password change or a
-- disable ends for good, the key of the device cookies, throttle keys that
-- name the account, and an audit log pruned past its retention.

-- Sessions begun before this time are no longer valid, whatever their own
-- row says: a sign-in that checked the old password just before a change
-- cannot leave a session behind. 0: no such time yet.
ALTER TABLE users ADD COLUMN sessions_valid_after INTEGER NOT NULL DEFAULT 0;
-- The one session that time spares: the one that changed the password,
-- which stays signed in. NULL: none.
ALTER TABLE users ADD COLUMN sessions_valid_after_spares TEXT;

-- Secrets every instance shares, made by whichever needs one first (the key
-- that signs device cookies).
CREATE TABLE server_secrets (
    name       TEXT PRIMARY KEY,
    secret     BLOB NOT NULL,
    created_at INTEGER NOT NULL
);

-- Throttle keys now name an account, a device or a digest of a submitted
-- name ('account:…', 'device:…', 'name:…'); rows of the old keys would never
-- be read again. Rows past their memory are purged by time.
DELETE FROM login_failures;
CREATE INDEX login_failures_by_time ON login_failures (last_failure_at);

-- Still append-only, except that events older than 30 days by the database's
-- own clock may be deleted (`audit_retention`, at least 30 days): the recent
-- history cannot be removed, whatever the code asks.
DROP TRIGGER audit_events_no_delete;
CREATE TRIGGER audit_events_no_recent_delete BEFORE DELETE ON audit_events
WHEN OLD.at > (CAST(strftime('%s', 'now') AS INTEGER) - 30 * 86400) * 1000
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only: events younger than 30 days are kept');
END;
