-- Sign-in with other providers (OpenID Connect, GitHub).

-- Who an account is at a provider: the provider's id (as configured) and the
-- subject it names the person by, never their e-mail address, which they
-- may change or give up. One identity per provider per account.
CREATE TABLE external_identities (
    provider   TEXT NOT NULL,
    subject    TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- the address the provider gave at linking, for the account page only
    email      TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (provider, subject),
    UNIQUE (user_id, provider)
);

-- Sign-ins begun at a provider and not yet back: what the callback checks,
-- found by the SHA-256 of the browser's flow cookie and deleted by the
-- callback that uses it, so that a replayed callback finds nothing.
CREATE TABLE sign_in_flows (
    flow_hash     BLOB PRIMARY KEY,
    provider      TEXT NOT NULL,
    state         TEXT NOT NULL,
    nonce         TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    -- the same-site path to continue to
    next          TEXT NOT NULL,
    -- set when a signed-in user links the provider to their account
    link_user     TEXT,
    expires_at    INTEGER NOT NULL
);
CREATE INDEX sign_in_flows_by_expiry ON sign_in_flows (expires_at);

-- An identity whose verified e-mail address is that of an existing account,
-- waiting for the person to prove that account with its password; found by
-- the SHA-256 of the browser's cookie, used once.
CREATE TABLE pending_links (
    token_hash BLOB PRIMARY KEY,
    provider   TEXT NOT NULL,
    subject    TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    email      TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX pending_links_by_expiry ON pending_links (expires_at);

-- The provider a session was signed in with; NULL: a password.
ALTER TABLE sessions ADD COLUMN idp TEXT;

-- What the first step of a sign-in waiting for its second factor proved
-- (as `sessions.amr` and `sessions.idp`): a password, or a sign-in at a
-- provider, which the code then completes.
ALTER TABLE mfa_pending ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
ALTER TABLE mfa_pending ADD COLUMN idp TEXT;
