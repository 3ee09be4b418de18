-- Every instance remembers what `GET /api/auth/session` shows of each
-- session, and forgets a user's entries when the user changes
-- (src/auth/session_views.rs). As with revocations (0002_notify.sql), a
-- trigger announces every committed change of what that answer shows or
-- depends on, whoever made it; the instances' polls, which find users by
-- `updated_at`, are the safety net, and the index keeps them cheap.

CREATE INDEX users_by_updated_at ON users (updated_at);

CREATE FUNCTION portcullis_notify_user() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- payload: '<user id>'
    PERFORM pg_notify('portcullis_users', COALESCE(NEW.id, OLD.id));
    RETURN NULL;
END;
$$;

CREATE TRIGGER users_notify_change
    AFTER UPDATE ON users
    FOR EACH ROW
    WHEN ((OLD.username, OLD.email, OLD.email_verified, OLD.disabled,
           OLD.sessions_valid_after, OLD.sessions_valid_after_spares)
          IS DISTINCT FROM
          (NEW.username, NEW.email, NEW.email_verified, NEW.disabled,
           NEW.sessions_valid_after, NEW.sessions_valid_after_spares))
    EXECUTE FUNCTION portcullis_notify_user();

CREATE TRIGGER users_notify_delete
    AFTER DELETE ON users
    FOR EACH ROW
    EXECUTE FUNCTION portcullis_notify_user();
