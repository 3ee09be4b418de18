-- PostgreSQL only: every instance LISTENs on these channels (src/store/changes.rs).
-- The tables stay exactly as in the SQLite schema; SQLite instances poll instead.
--
-- Triggers rather than NOTIFY calls in the application: a revocation made by
-- any code path, an admin command or an operator's own UPDATE is announced, and
-- the notification is sent if and only if the revocation commits.

CREATE FUNCTION portcullis_notify_revocation() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- payload: '<session id> <revoked_at in ms>'
    PERFORM pg_notify('portcullis_revocations', NEW.id || ' ' || NEW.revoked_at);
    RETURN NULL;
END;
$$;

CREATE TRIGGER sessions_notify_revocation
    AFTER UPDATE OF revoked_at ON sessions
    FOR EACH ROW
    WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
    EXECUTE FUNCTION portcullis_notify_revocation();

CREATE FUNCTION portcullis_notify_keys() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('portcullis_keys', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER signing_keys_notify
    AFTER INSERT OR UPDATE OR DELETE ON signing_keys
    FOR EACH STATEMENT
    EXECUTE FUNCTION portcullis_notify_keys();
