-- Sign-in with other providers (see the SQLite migration of the same name
-- for what each table is).

CREATE TABLE external_identities (
    provider   TEXT NOT NULL,
    subject    TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    email      TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (provider, subject),
    UNIQUE (user_id, provider)
);

CREATE TABLE sign_in_flows (
    flow_hash     BYTEA PRIMARY KEY,
    provider      TEXT NOT NULL,
    state         TEXT NOT NULL,
    nonce         TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    next          TEXT NOT NULL,
    link_user     TEXT,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX sign_in_flows_by_expiry ON sign_in_flows (expires_at);

CREATE TABLE pending_links (
    token_hash BYTEA PRIMARY KEY,
    provider   TEXT NOT NULL,
    subject    TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    email      TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX pending_links_by_expiry ON pending_links (expires_at);

ALTER TABLE sessions ADD COLUMN idp TEXT;

-- What the first step of a sign-in waiting for its second factor proved
-- (as `sessions.amr` and `sessions.idp`): a password, or a sign-in at a
-- provider, which the code then completes.
ALTER TABLE mfa_pending ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
ALTER TABLE mfa_pending ADD COLUMN idp TEXT;
