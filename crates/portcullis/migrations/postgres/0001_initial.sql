-- Times are milliseconds since the Unix epoch (UTC), as in the SQLite schema.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL,
    username_key  TEXT NOT NULL UNIQUE,
    email         TEXT NOT NULL,
    email_key     TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE sessions (
    id             TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at     BIGINT NOT NULL,
    refreshed_at   BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    generation     BIGINT NOT NULL,
    successor_seal BYTEA,
    revoked_at     BIGINT,
    revoked_reason TEXT,
    user_agent     TEXT,
    client_addr    TEXT
);
CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_by_revocation ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

CREATE TABLE refresh_tokens (
    token_hash BYTEA PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    generation BIGINT NOT NULL,
    issued_at  BIGINT NOT NULL
);
CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id);

CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY,
    algorithm    TEXT NOT NULL,
    private_key  BYTEA NOT NULL,
    public_key   BYTEA NOT NULL,
    created_at   BIGINT NOT NULL,
    signs_from   BIGINT NOT NULL,
    retired_at   BIGINT,
    verify_until BIGINT
);

CREATE TABLE login_failures (
    account_key     TEXT PRIMARY KEY,
    failures        BIGINT NOT NULL,
    last_failure_at BIGINT NOT NULL
);
