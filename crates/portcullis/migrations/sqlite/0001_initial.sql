-- Times are milliseconds since the Unix epoch (UTC).

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL,
    -- lower-cased forms: names and addresses are unique regardless of case
    username_key  TEXT NOT NULL UNIQUE,
    email         TEXT NOT NULL,
    email_key     TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

-- One row per sign-in; refresh-token rotations advance `generation`.
CREATE TABLE sessions (
    id             TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at     INTEGER NOT NULL,
    -- last sign-in or rotation: the idle timeout counts from here
    refreshed_at   INTEGER NOT NULL,
    -- absolute end of the session
    expires_at     INTEGER NOT NULL,
    generation     INTEGER NOT NULL,
    -- the current refresh token, sealed under its predecessor (grace window)
    successor_seal BLOB,
    revoked_at     INTEGER,
    revoked_reason TEXT,
    user_agent     TEXT,
    client_addr    TEXT
);
CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_by_revocation ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

-- Every refresh token ever issued, by hash, so that a replayed old one is
-- recognised as theft rather than as an unknown token.
CREATE TABLE refresh_tokens (
    token_hash BLOB PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    generation INTEGER NOT NULL,
    issued_at  INTEGER NOT NULL
);
CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id);

CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY,
    algorithm    TEXT NOT NULL,
    private_key  BLOB NOT NULL,
    public_key   BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    -- the key signs from this time (published in the JWKS before it)
    signs_from   INTEGER NOT NULL,
    retired_at   INTEGER,
    -- after retirement, published until the last token it signed has expired
    verify_until INTEGER
);

-- Failed sign-ins per submitted account name (whether or not it exists), so
-- that throttling holds across instances and restarts.
CREATE TABLE login_failures (
    account_key     TEXT PRIMARY KEY,
    failures        INTEGER NOT NULL,
    last_failure_at INTEGER NOT NULL
);
