-- Passkeys (WebAuthn credentials) and the WebAuthn ceremonies under way.

-- One row per passkey. `credential_id` is the authenticator's id of the
-- credential (unique: one credential belongs to one account); `passkey` is
-- webauthn-rs's `Passkey` as JSON (public key, algorithm, signature
-- counter); `sign_count` repeats the counter so that an update can refuse
-- to move it backwards in one conditional statement (a cloned
-- authenticator, or two requests racing with one assertion).
CREATE TABLE passkeys (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    credential_id BLOB NOT NULL UNIQUE,
    passkey       TEXT NOT NULL,
    sign_count    INTEGER NOT NULL,
    name          TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER
);
CREATE INDEX passkeys_by_user ON passkeys (user_id);

-- A ceremony between its start and its finish, by the SHA-256 of its random
-- id (the finish request carries the id): webauthn-rs's state as JSON (the
-- challenge), whose it is (NULL for a usernameless sign-in, which learns the
-- account only from the assertion), and what it is for. Finishing one
-- deletes it, so a challenge is answered once; kept in the database so that
-- any instance can finish what another started.
CREATE TABLE webauthn_ceremonies (
    id_hash    BLOB PRIMARY KEY,
    purpose    TEXT NOT NULL,
    user_id    TEXT REFERENCES users(id) ON DELETE CASCADE,
    state      TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX webauthn_ceremonies_by_expiry ON webauthn_ceremonies (expires_at);
